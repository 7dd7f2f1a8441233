"""The config file and `actorserve check` accept `batch_wait_ms = "auto"` through the same code as `run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from actorserve.adapters.cli import main
from actorserve.adapters.config import load_config

AUTO = """
[invoker]
type = "simulated"
latency_ms = 0.5

[[models]]
name = "chat"
versions = [
  {{ id = "a", serving = {{ max_batch_size = 16, batch_wait_ms = "auto"{extra} }} }},
]

[traffic]
requests = 40
concurrency = 8
"""


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "auto.toml"
    path.write_text(AUTO.format(extra=extra))
    return path


def test_the_loader_reads_auto_and_max_latency(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ", max_latency_ms = 50"))
    serving = config.models[0].versions[0].serving
    assert serving.adaptive_batching
    assert serving.max_latency_ms == 50


def test_check_and_run_accept_auto(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, ", max_latency_ms = 50")
    assert main(["check", str(path)]) == 0
    assert main(["run", str(path), "--no-progress"]) == 0
    assert "40 requests" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_bad_max_latency_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = write(tmp_path, ", max_latency_ms = -3")
    args = [command, str(path)] + (["--no-progress"] if command == "run" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "models[0].versions[0].serving.max_latency_ms: must be" in err
