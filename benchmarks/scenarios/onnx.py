"""onnx: a real ONNX Runtime model behind actorserve, against one shared session called from every thread.

The model is one dense layer (`y = x @ W`, W of 2048 x 2048 float32, 16 MiB)
built with `onnx.helper` at run time. The peer is what a host app writes by
hand: one `InferenceSession` shared by all caller threads (ONNX Runtime runs
concurrent calls and releases the GIL), each call one row. Both sides go
through the same `OnnxInvoker`, so input validation and list conversion cost
the same; what differs is batching and the actor hops.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from actorserve.actors import ServingRuntime
from actorserve.domain import ModelRequest
from benchmarks.contenders import Contender, version
from benchmarks.context import Context
from benchmarks.harness import ScenarioResult, Target, median_summary


def build_dense(path: Path, dim: int) -> None:
    """Write a one-MatMul ONNX model with a dynamic batch axis."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).standard_normal((dim, dim)).astype("float32") / dim**0.5
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, dim])],
        [numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def _parameters(path: Path) -> dict[str, object]:
    return {"model_path": str(path)}


class SharedSession(Contender):
    """Every caller thread calls one loaded session directly."""

    name = "shared session (direct)"

    def __init__(self, path: Path, row: list[list[float]]) -> None:
        from actorserve.adapters.onnx_invoker import OnnxInvoker

        self._invoker = OnnxInvoker()
        v = version()
        v.framework, v.parameters = "onnx", _parameters(path)
        self._handle = self._invoker.load(v)
        self._request = ModelRequest("r", "m", "v1", {"x": row})

    def call(self, i: int) -> bool:
        return self._invoker.invoke(self._handle, self._request, 30.0).ok

    def close(self) -> None:
        self._invoker.close()


class ServedOnnx(Contender):
    """actorserve serving the model with the runtime's default backends."""

    def __init__(self, path: Path, row: list[list[float]], **serving: Any) -> None:
        self.name = f"actorserve batch {serving.get('max_batch_size', 1)} × {serving.get('replicas', 1)} replicas"
        self.runtime = ServingRuntime()
        v = version(**serving)
        v.framework, v.parameters = "onnx", _parameters(path)
        self.runtime.register(v)
        if not self.runtime.wait_ready("v1", 60):
            msg = f"the ONNX version did not become READY: {v.last_error}"
            raise RuntimeError(msg)
        self._data: dict[str, object] = {"x": row}

    def call(self, i: int) -> bool:
        return self.runtime.serve("m", self._data).success

    def close(self) -> None:
        self.runtime.stop()


def run(ctx: Context) -> ScenarioResult:
    dim = ctx.pick(2048, 256)
    callers = 64
    n = ctx.pick(3000, 300)
    repeats = ctx.pick(3, 1)
    row = [[float(i % 7) / 7.0 for i in range(dim)]]
    configs: list[dict[str, Any]] = [
        {"max_batch_size": 1, "replicas": 2},  # one session per core, as the shared session can use both
        {"max_batch_size": 32, "batch_wait_ms": 1.0},
        {"max_batch_size": 32, "batch_wait_ms": 1.0, "replicas": 2},
    ]
    task = ctx.progress.add_task("onnx", total=(len(configs) + 1) * repeats)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dense.onnx"
        build_dense(path, dim)
        contenders: list[Contender] = [SharedSession(path, row)]
        try:
            contenders += [ServedOnnx(path, row, **c) for c in configs]
            for c in contenders:
                ctx.measure(c, n // 10, callers)  # warm-up
            runs: dict[str, list[Any]] = {c.name: [] for c in contenders}
            for _ in range(repeats):  # interleaved, so drift hits every contender alike
                for c in contenders:
                    runs[c.name].append(ctx.measure(c, n, callers))
                    ctx.progress.advance(task)
        finally:
            for c in contenders:
                c.close()
    summary = {name: median_summary(r) for name, r in runs.items()}
    base = summary[SharedSession.name]["throughput_rps"]
    rows = [
        [
            name,
            round(s["throughput_rps"]),
            round(s["throughput_rps"] / base, 2),
            round(s["p50_us"], 1),
            round(s["p99_us"], 1),
        ]
        for name, s in summary.items()
    ]
    shared = summary[SharedSession.name]
    batched = summary["actorserve batch 32 × 1 replicas"]
    unbatched = summary["actorserve batch 1 × 2 replicas"]
    where = f"ONNX dense {dim}, {callers} callers"
    targets = [
        Target(
            "onnx.batched_vs_shared_session",
            f"{where}: batching 32 ≥ 1.2× the throughput of one shared session called by every thread",
            batched["throughput_rps"] / base,
            1.2,
            True,
            "×",
        ),
        Target(
            "onnx.batched_p99_vs_shared_session",
            f"{where}: batching 32 p99 ≤ 0.5× the shared session's p99",
            batched["p99_us"] / shared["p99_us"],
            0.5,
            False,
            "×",
        ),
        Target(
            "onnx.unbatched_vs_shared_session",
            f"{where}: unbatched, 2 replicas ≥ 0.75× the shared session's throughput (what the actor hops cost)",
            unbatched["throughput_rps"] / base,
            0.75,
            True,
            "×",
        ),
    ]
    return ScenarioResult(
        name="onnx",
        columns=["contender", "req/s", "× shared session", "p50 µs", "p99 µs"],
        rows=rows,
        targets=targets,
        raw={"summary": summary, "callers": callers, "dim": dim, "n": n, "repeats": repeats},
    )
