"""Session fixtures: a real MLServer and a real llmock, each installed in its own virtualenv."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.http_servers import free_port
from tests.integration.servers import Server, ensure_venv

MLSERVER_PACKAGES = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1"]
LLMOCK_PACKAGES = ["llmock==0.2.2"]

_TRAIN = """
import json, sys
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

x, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000).fit(x, y)
joblib.dump(model, sys.argv[1])
json.dump({"rows": x.tolist(), "predict": model.predict(x).tolist(),
           "predict_proba": model.predict_proba(x).tolist()}, open(sys.argv[2], "w"))
"""


@dataclass(frozen=True)
class MLServer:
    url: str
    rows: list[list[float]]
    predict: list[int]
    predict_proba: list[list[float]]


@pytest.fixture(scope="session")
def mlserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLServer]:
    """MLServer serving `iris` (a scikit-learn model trained by MLServer's own Python) on 127.0.0.1."""
    bin_dir = ensure_venv("mlserver", MLSERVER_PACKAGES)
    root = tmp_path_factory.mktemp("mlserver")
    model_dir = root / "iris"
    model_dir.mkdir()
    import subprocess

    subprocess.run(
        [str(bin_dir / "python"), "-c", _TRAIN, str(model_dir / "model.joblib"), str(root / "expected.json")],
        check=True,
        timeout=300,
    )
    (model_dir / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "iris",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "v1"},
            }
        )
    )
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
        "debug": False,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    expected: dict[str, Any] = json.loads((root / "expected.json").read_text())
    with Server(
        [str(bin_dir / "mlserver"), "start", str(root)],
        cwd=root,
        port=port,
        ready_path="/v2/models/iris/ready",
        log=root / "mlserver.log",
    ) as server:
        yield MLServer(server.url, expected["rows"], expected["predict"], expected["predict_proba"])


@pytest.fixture(scope="session")
def llmock_bin() -> Path:
    return ensure_venv("llmock", LLMOCK_PACKAGES) / "llmock"


def _llmock(bin_path: Path, root: Path, *flags: str) -> Server:
    port = free_port()
    return Server(
        [str(bin_path), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *flags],
        cwd=root,
        port=port,
        ready_path="/health",
        log=root / f"llmock-{port}.log",
        timeout_s=60,
    )


@pytest.fixture(scope="session")
def llmock(llmock_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A well-behaved llmock; tests script faults through its `/_llmock/scenario` API. Yields its URL."""
    with _llmock(llmock_bin, tmp_path_factory.mktemp("llmock")) as server:
        yield server.url


@pytest.fixture(scope="session")
def chaotic_llmock(llmock_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An llmock answering 20 % of requests 500 and 20 % 429, each after 5 ms. Yields its URL."""
    flags = ("--latency-ms", "5", "--error-rate", "500=0.2", "--error-rate", "429=0.2")
    with _llmock(llmock_bin, tmp_path_factory.mktemp("llmock-chaos"), *flags) as server:
        yield server.url
