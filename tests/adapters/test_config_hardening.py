"""Files the CLI cannot read or parse: one line that names the file and the problem, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from actorserve.adapters.cli import main

VALID = '[[models]]\nname = "x"\nversions = [{ id = "a" }]\n'


def assert_one_line_exit_2(argv: list[str], path: Path, capsys: pytest.CaptureFixture[str], message: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"actorserve: {path}: ")
    assert message in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_file_that_is_not_utf8_is_one_line_naming_the_byte_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(VALID.encode() + b"# caf\xe9\n")
    assert_one_line_exit_2([command, str(path)], path, capsys, "not UTF-8 text (byte 0xe9 on line 4)")


@pytest.mark.parametrize("command", ["check", "run"])
def test_arrays_nested_thousands_deep_are_one_line_not_a_recursion_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n" + VALID)
    assert_one_line_exit_2([command, str(path)], path, capsys, "invalid TOML: arrays or tables nested too deeply")


def test_inline_tables_nested_thousands_deep_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n")
    assert_one_line_exit_2(["check", str(path)], path, capsys, "nested too deeply")


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    path = tmp_path / "nope.toml"
    assert_one_line_exit_2([command, str(path)], path, capsys, "no such file")


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_directory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    path = tmp_path / "configs.toml"
    path.mkdir()
    assert_one_line_exit_2([command, str(path)], path, capsys, "is a directory")


def test_an_unreadable_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.toml"
    path.write_text(VALID)
    read_bytes = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == path:  # chmod is no proof when the tests run as root
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert_one_line_exit_2(["check", str(path)], path, capsys, "cannot read (permission denied)")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here yet\n"])
def test_an_empty_file_is_one_line_saying_models_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "empty.toml"
    path.write_text(text)
    assert_one_line_exit_2(["check", str(path)], path, capsys, "models: missing")
