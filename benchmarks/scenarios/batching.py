"""batching: a vectorised model under 64 callers, batch sizes 1-64.

The model is a 4096x4096 float32 dense layer (64 MiB of weights): one row
reads all of W (memory-bound), 32 rows cost little more, the situation
dynamic batching exists for (large layers served at small batch).
"""

from __future__ import annotations

from functools import partial

from benchmarks import plots
from benchmarks.contenders import ActorServe
from benchmarks.context import Context
from benchmarks.harness import ScenarioResult, Target, median_summary
from benchmarks.models import Matmul


def run(ctx: Context) -> ScenarioResult:
    sizes = ctx.pick([1, 2, 4, 8, 16, 32, 64], [1, 8, 32])
    callers = 64
    n = ctx.pick(2000, 600)
    repeats = ctx.pick(3, 1)
    dim = ctx.pick(4096, 512)
    model = partial(Matmul, dim)
    task = ctx.progress.add_task("batching", total=len(sizes) * repeats)
    summary: dict[int, dict[str, float]] = {}
    for size in sizes:
        contender = ActorServe(model(), max_batch_size=size, batch_wait_ms=2.0 if size > 1 else 0.0)
        try:
            ctx.measure(contender, n // 10, callers)
            runs = []
            for _ in range(repeats):
                runs.append(ctx.measure(contender, n, callers))
                ctx.progress.advance(task)
            summary[size] = median_summary(runs)
        finally:
            contender.close()
    base = summary[1]["throughput_rps"]
    rows = [
        [
            size,
            round(s["throughput_rps"]),
            round(s["throughput_rps"] / base, 2),
            round(s["p50_us"], 1),
            round(s["p99_us"], 1),
        ]
        for size, s in summary.items()
    ]
    targets = []
    if 32 in summary:
        targets.append(
            Target(
                "batching.32_vs_unbatched",
                "batch 32 under 64 callers: ≥ 4× the unbatched throughput",
                summary[32]["throughput_rps"] / base,
                4.0,
                True,
                "×",
            )
        )
    return ScenarioResult(
        name="batching",
        columns=["max_batch_size", "req/s", "× unbatched", "p50 µs", "p99 µs"],
        rows=rows,
        targets=targets,
        raw={"summary": summary, "callers": callers, "dim": dim, "n": n, "repeats": repeats},
        plots=plots.throughput_vs_batch(ctx.out_dir, summary, "batching-throughput.png"),
    )
