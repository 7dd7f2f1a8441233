from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actorserve.adapters.cli import main
from actorserve.adapters.config import load_config

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
[runtime]
seed = 3

[invoker]
type = "simulated"
latency_ms = 0.5

[[models]]
name = "chat"
type = "language_model"
routing = { strategy = "round_robin" }
versions = [
  { id = "a", number = "1.0.0", parameters = { price_per_1k_input_tokens = 0.001 } },
  { id = "b", number = "2.0.0", serving = { replicas = 2 } },
]

[traffic]
requests = 60
concurrency = 4
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_run_drives_the_traffic_and_prints_the_per_version_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(write(tmp_path, SMALL)), "--no-progress"]) == 0
    out = capsys.readouterr().out
    for header in ("model", "version", "requests", "p50 ms", "p95 ms", "p99 ms", "tokens", "cost $"):
        assert header in out
    assert "60 requests" in out
    assert "│ chat  │ a " in out or "chat" in out


def test_the_quickstart_config_is_valid() -> None:
    config = load_config(ROOT / "examples" / "quickstart.toml")
    assert {m.name for m in config.models} == {"chat", "embed", "vision"}
    assert {e.type for e in config.experiments} == {"ab_test", "shadow", "ensemble"}
    assert config.traffic.requests > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[models]]\nname = "x"\nversion = []\n', "models[0].version: unknown key"),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a", serving = { replicas = -1 } }]\n',
            "models[0].versions[0].serving.replicas: must be",
        ),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a", serving = { replica = 2 } }]\n',
            "serving.replica: unknown key",
        ),
        (
            '[[models]]\nname = "x"\ntype = "robot"\nversions = [{ id = "a" }]\n',
            "models[0].type: unknown value 'robot'",
        ),
        ('[[models]]\nname = "x"\nversions = [{ id = "" }]\n', "models[0].versions[0].id: must be a non-empty string"),
        ('[[models]]\nname = "x"\nversions = [{ id = "a" }, { id = "a" }]\n', "version id 'a' is declared twice"),
        (
            '[invoker]\nlatency = 3\n[[models]]\nname = "x"\nversions = [{ id = "a" }]\n',
            "invoker.latency: unknown setting",
        ),
        (
            '[invoker]\nlatency_ms = -3\n[[models]]\nname = "x"\nversions = [{ id = "a" }]\n',
            "invoker.latency_ms: must be",
        ),
        (
            '[invoker]\ntype = "quantum"\n[[models]]\nname = "x"\nversions = [{ id = "a" }]\n',
            "invoker: unknown 'quantum'",
        ),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a" }]\n[traffic]\nrequests = "lots"\n',
            "traffic.requests: must be int",
        ),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a" }]\n[traffic]\nmix = { y = 1 }\n',
            "traffic.mix.y: no such model",
        ),
        ("models = [\n", "invalid TOML"),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a" }, { id = "b" }]\n[[experiments]]\ntype = "ab"\nid = "t"\n',
            "experiments[0].type: must be one of",
        ),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a" }]\n[[experiments]]\ntype = "ab_test"\nid = "t"\n'
            'arms = ["a", "z"]\n',
            "experiments[0].arms: 'z' is not a declared version",
        ),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a" }, { id = "b" }]\n[[experiments]]\ntype = "shadow"\n'
            'id = "s"\nprimary = "a"\nshadow = "b"\nqueue = 3\n',
            "experiments[0].queue: unknown key",
        ),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a" }, { id = "b" }]\n[[experiments]]\ntype = "ensemble"\n'
            'id = "e"\nmembers = ["a", "b"]\nmin_agreements = 5\n',
            "experiments[0].min_agreements: must be between 1",
        ),
        ("", "models: missing"),
        (
            '[invokers.quantum]\nx = 1\n[[models]]\nname = "x"\nversions = [{ id = "a" }]\n',
            "invokers.quantum: unknown backend",
        ),
        (
            '[invokers.onnx]\nthreads = 1\n[[models]]\nname = "x"\nversions = [{ id = "a" }]\n',
            "invokers.onnx.threads: unknown setting",
        ),
        (
            '[metrics]\nport = 99999\n[[models]]\nname = "x"\nversions = [{ id = "a" }]\n',
            "metrics.port: must be 0-65535",
        ),
        ('[[models]]\nname = "x"\ninputs = [1]\nversions = [{ id = "a" }]\n', "models[0].inputs[0]: must be a table"),
        (
            '[[models]]\nname = "x"\nversions = [{ id = "a", framework = "onnx" }]\n',
            "parameters.model_path: missing",
        ),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = write(tmp_path, text)
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"actorserve: {path}: ")
    assert message in err


def test_experiments_in_the_config_run_and_print_their_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        SMALL
        + """
[[experiments]]
type = "ab_test"
id = "t1"
arms = ["a", "b"]
min_samples = 5
"""
    )
    text = text.replace("requests = 60", "requests = 60\nmix = { t1 = 1.0 }")
    assert main(["run", str(write(tmp_path, text)), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "A/B test t1" in out
    assert "p-value" in out
    assert "winner" in out


def test_a_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_check_validates_without_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(write(tmp_path, SMALL))]) == 0
    assert "ok (2 versions)" in capsys.readouterr().out


def test_a_version_that_fails_to_load_is_reported_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SMALL.replace(
        '{ id = "b", number = "2.0.0", serving = { replicas = 2 } }',
        '{ id = "b", number = "2.0.0", parameters = { load_failures = 9 }, serving = { load_retries = 0 } }',
    )
    assert main(["run", str(write(tmp_path, text)), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "version b is failed" in out


def test_the_console_script_never_shows_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[[models]]\nname = 5\nversions = []\n")
    result = subprocess.run(
        [sys.executable, "-m", "actorserve.adapters.cli", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "models[0].name: must be str" in result.stderr


def test_the_backends_example_serves_an_onnx_model_beside_a_simulated_llm_with_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], iris: Any
) -> None:
    text = (ROOT / "examples" / "backends.toml").read_text()
    text = text.replace("port = 9464", "port = 0").replace("requests = 3000", "requests = 200")
    config_dir = tmp_path / "cfg"
    (config_dir / "models").mkdir(parents=True)
    (config_dir / "models" / "iris.onnx").write_bytes(iris.onnx.read_bytes())
    path = config_dir / "backends.toml"
    path.write_text(text)
    config = load_config(path)
    assert config.models[0].versions[0].parameters["model_path"] == str(config_dir / "models" / "iris.onnx")
    assert main(["run", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Prometheus metrics: http://127.0.0.1:" in out
    assert 'actorserve_requests_total{model="iris",version="iris-onnx"}' in out
    assert "200 requests" in out
    assert "200 ok" in out


def test_the_iris_builder_writes_a_model_the_onnx_invoker_serves(tmp_path: Path) -> None:
    import runpy

    from actorserve.adapters.onnx_invoker import OnnxInvoker
    from actorserve.domain import ModelRequest
    from tests.fakes import make_version

    target = tmp_path / "iris.onnx"
    runpy.run_path(str(ROOT / "examples" / "build_iris_model.py"), run_name="builder")["build"](target)
    inv = OnnxInvoker()
    handle = inv.load(make_version(framework="onnx", parameters={"model_path": str(target)}))
    result = inv.invoke(handle, ModelRequest("r", "iris", "v1", {"X": [[5.1, 3.5, 1.4, 0.2]]}), 5.0)
    assert result.output["label"] == [0]  # type: ignore[index]


def test_a_state_table_keeps_the_versions_for_the_next_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, SMALL + '\n[state]\nurl = "sqlite:///run-state.db"\nflush_interval_s = 0.5\n')
    assert load_config(config).state is not None
    assert main(["run", str(config), "--no-progress"]) == 0
    assert (tmp_path / "run-state.db").exists()  # relative to the config file's folder
    assert main(["run", str(config), "--no-progress"]) == 0  # the restored versions are the declared ones
    assert "60 requests" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('url = "state.db"', "state.url"),
        ('url = "sqlite:///x.db"\nflush_interval_s = 0', "state.flush_interval_s"),
        ('url = "sqlite:///x.db"\nwhere = 1', "state.where"),
        ("namespace = 'x'", "state.url"),
    ],
)
def test_a_bad_state_table_is_named(tmp_path: Path, table: str, field: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, SMALL + f"\n[state]\n{table}\n")
    assert main(["check", str(config)]) == 2
    assert field in capsys.readouterr().err
