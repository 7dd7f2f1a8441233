"""http: actorserve's V2 endpoint against MLServer's, the same scikit-learn iris model, over real HTTP.

Both servers run as processes of their own on 127.0.0.1; the load generator
(`benchmarks.loadgen`: raw asyncio streams, one keep-alive connection per
worker) runs in this process, at 1 and at 64 connections, interleaved with
repeats. actorserve: `actorserve serve` with the scikit-learn backend
(skops file), 2 replicas, batches of up to 32 formed from what is queued
(`batch_wait_ms = 0`: no waiting for a batch to fill; MLServer batches
adaptively too, but not by default). MLServer 1.7.1 with mlserver-sklearn
(joblib file), `parallel_workers = 0` (as the integration tests run it:
its default parallel worker needs uvloop pinned to 0.21, see the issue), its
other settings at their defaults. Each side trains the model with its own
scikit-learn, on the same bundled data with the same settings.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.context import Context
from benchmarks.harness import Run, ScenarioResult, Target, median_summary
from benchmarks.loadgen import load, request_bytes

ROW = [5.1, 3.5, 1.4, 0.2]
MLSERVER_PACKAGES = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1"]

_TRAIN = """
import sys, joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
x, y = load_iris(return_X_y=True)
joblib.dump(LogisticRegression(max_iter=1000).fit(x, y), sys.argv[1])
"""

_CONFIG = """
[invoker]
type = "sklearn"

[server]
port = 0

[[models]]
name = "iris"

  [[models.versions]]
  id = "iris-1"
  framework = "sklearn"
  parameters = {{ model_path = "{path}", outputs = ["predict"] }}
  serving = {{ replicas = 2, max_batch_size = 32, batch_wait_ms = 0, max_queue = 4096 }}
"""


class _Actorserve:
    name = "actorserve serve (V2)"

    def __init__(self, root: Path) -> None:
        import skops.io as sio
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        x, y = load_iris(return_X_y=True)
        sio.dump(LogisticRegression(max_iter=1000).fit(x, y), root / "iris.skops")
        config = root / "actorserve.toml"
        config.write_text(_CONFIG.format(path=root / "iris.skops"))
        exe = Path(sys.executable).parent / "actorserve"
        self.proc = subprocess.Popen([str(exe), "serve", str(config)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.close()
            msg = f"actorserve serve did not start: {line!r}"
            raise RuntimeError(msg)
        self.url = line.removeprefix("listening on ")
        body = {"inputs": [{"name": "instances", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
        self.raw = request_bytes(self.url, "/v2/models/iris/infer", json.dumps(body).encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class _MLServer:
    name = "MLServer 1.7.1 (V2)"

    def __init__(self, root: Path, bin_dir: Path) -> None:
        from tests.http_servers import free_port
        from tests.integration.servers import Server

        model = root / "iris"
        model.mkdir()
        subprocess.run([str(bin_dir / "python"), "-c", _TRAIN, str(model / "model.joblib")], check=True, timeout=300)
        settings = {"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel"}
        (model / "model-settings.json").write_text(json.dumps({**settings, "parameters": {"uri": "./model.joblib"}}))
        port = free_port()
        server_settings = {
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "parallel_workers": 0,
        }
        (root / "settings.json").write_text(json.dumps(server_settings))
        self.server = Server(
            [str(bin_dir / "mlserver"), "start", str(root)],
            cwd=root,
            port=port,
            ready_path="/v2/models/iris/ready",
            log=root / "mlserver.log",
        ).__enter__()
        self.url = self.server.url
        body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
        self.raw = request_bytes(self.url, "/v2/models/iris/infer", json.dumps(body).encode())

    def close(self) -> None:
        self.server.stop()


def _mlserver_bin(ctx: Context) -> Path | None:
    from tests.integration.servers import ROOT, ensure_venv

    if ctx.quick and not (ROOT / "mlserver" / ".installed").exists():
        return None  # quick mode never installs it; the integration tier does
    return ensure_venv("mlserver", MLSERVER_PACKAGES)


def run(ctx: Context) -> ScenarioResult:
    n64 = ctx.pick(6000, 300)
    n1 = ctx.pick(1500, 100)
    repeats = ctx.pick(3, 1)
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "as").mkdir()
        (root / "ml").mkdir()
        contenders: list[Any] = [_Actorserve(root / "as")]
        try:
            bin_dir = _mlserver_bin(ctx)
            if bin_dir is None:
                notes.append("MLServer's virtualenv is not built (quick mode does not build it): no peer measured")
            else:
                contenders.append(_MLServer(root / "ml", bin_dir))
            task = ctx.progress.add_task("http", total=len(contenders) * repeats * 2)
            for c in contenders:  # warm-up
                load(c.url, c.raw, 64, max(64, n64 // 10))
            runs: dict[tuple[str, int], list[Run]] = {(c.name, k): [] for c in contenders for k in (1, 64)}
            for _ in range(repeats):  # interleaved, so drift hits every contender alike
                for c in contenders:
                    for connections, n in ((1, n1), (64, n64)):
                        runs[(c.name, connections)].append(load(c.url, c.raw, connections, n))
                        ctx.progress.advance(task)
        finally:
            for c in contenders:
                c.close()
    summary = {f"{name} × {k}": median_summary(r) for (name, k), r in runs.items()}
    rows = [
        [key, round(s["throughput_rps"]), round(s["p50_us"], 1), round(s["p99_us"], 1), int(s.get("errors", 0))]
        for key, s in summary.items()
    ]
    targets: list[Target] = []
    ours = _Actorserve.name
    peer = _MLServer.name
    if f"{peer} × 64" in summary:
        a64, m64 = summary[f"{ours} × 64"], summary[f"{peer} × 64"]
        a1, m1 = summary[f"{ours} × 1"], summary[f"{peer} × 1"]
        where = "V2 HTTP, sklearn iris"
        targets = [
            Target(
                "http.throughput_vs_mlserver",
                f"{where}, 64 connections: ≥ 2× MLServer's throughput",
                a64["throughput_rps"] / m64["throughput_rps"],
                2.0,
                True,
                "×",
            ),
            Target(
                "http.p99_vs_mlserver",
                f"{where}, 64 connections: p99 ≤ 0.5× MLServer's",
                a64["p99_us"] / m64["p99_us"],
                0.5,
                False,
                "×",
            ),
            Target(
                "http.p50_1_vs_mlserver",
                f"{where}, 1 connection: p50 ≤ MLServer's",
                a1["p50_us"] / m1["p50_us"],
                1.0,
                False,
                "×",
            ),
        ]
    return ScenarioResult(
        name="http",
        columns=["contender × connections", "req/s", "p50 µs", "p99 µs", "errors"],
        rows=rows,
        targets=targets,
        notes=notes,
        raw={"summary": summary, "n64": n64, "n1": n1, "repeats": repeats},
    )
