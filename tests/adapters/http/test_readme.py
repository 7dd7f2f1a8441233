"""Every example of the README's HTTP section runs: its Python blocks, and its curl lines against `actorserve serve`."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## HTTP\n")
    return text[start : text.index("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def iris_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from build_iris_model import build  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    path = tmp_path_factory.mktemp("readme") / "models" / "iris.onnx"
    build(path)
    return path


def test_the_http_section_has_its_examples() -> None:
    assert len(blocks("python")) == 2
    assert len(blocks("sh")) == 1


@pytest.mark.parametrize("index", [0, 1])
def test_each_python_example_runs(index: int, iris_path: Path) -> None:
    code = blocks("python")[index].replace("examples/models/iris.onnx", str(iris_path))
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    if index == 1:
        assert "'name': 'label', 'shape': [1], 'datatype': 'INT64', 'data': [0]" in done.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_each_curl_line_runs_against_actorserve_serve(iris_path: Path) -> None:
    config = iris_path.parent.parent / "serve.toml"
    config.write_text((ROOT / "examples" / "serve.toml").read_text())
    exe = Path(sys.executable).parent / "actorserve"
    server = subprocess.Popen(
        [str(exe), "serve", str(config), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().removeprefix("listening on ")
        assert url.startswith("http://127.0.0.1:")
        script = blocks("sh")[0].replace("\\\n", " ")
        lines = [line.split("  #")[0].strip() for line in script.splitlines()]
        commands = [line.replace("http://127.0.0.1:8000", url) for line in lines if line.startswith("curl")]
        assert len(commands) == 6
        outputs = []
        for command in commands:
            done = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, (command, done.stderr)
            outputs.append(done.stdout.strip())
        assert outputs[0] == "200"
        assert json.loads(outputs[1])["name"] == "iris"
        assert json.loads(outputs[2])["outputs"][0]["data"] == [0]
        assert json.loads(outputs[3])["choices"][0]["message"]["content"] == "Generated response for: hi"
        assert [d["index"] for d in json.loads(outputs[4])["data"]] == [0, 1]
        assert 'route="/v2/models/{model}/infer",status="200"' in outputs[5]
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        for pipe in (server.stdout, server.stderr):
            if pipe is not None:
                pipe.close()
