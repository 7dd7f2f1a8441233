"""One module per scenario; each exposes `run(ctx) -> ScenarioResult`."""

from __future__ import annotations

from benchmarks.scenarios import batching, drain, experiments, http, onnx, overhead, scale, state, throughput

SCENARIOS = {
    "overhead": overhead.run,
    "throughput": throughput.run,
    "batching": batching.run,
    "scale": scale.run,
    "experiments": experiments.run,
    "drain": drain.run,
    "onnx": onnx.run,
    "state": state.run,
    "http": http.run,
}
