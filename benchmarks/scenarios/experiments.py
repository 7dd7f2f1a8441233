"""experiments: A/B and shadow overhead per request vs plain routing; an ensemble of 3 vs its slowest member."""

from __future__ import annotations

from actorserve.actors import ServingRuntime
from actorserve.adapters import SimulatedInvoker
from benchmarks.contenders import version
from benchmarks.context import Context
from benchmarks.harness import Run, ScenarioResult, Target, interleave, median_summary, sequential


def run(ctx: Context) -> ScenarioResult:
    n = ctx.pick(2000, 200)
    repeats = ctx.pick(3, 1)
    rt = ServingRuntime(SimulatedInvoker())
    try:
        for vid in ("a", "b"):
            rt.register(version(vid, "m"))
        for vid, ms in (("e2", 2.0), ("e4", 4.0), ("e6", 6.0)):
            v = version(vid, "e")
            v.parameters["latency_ms"] = ms
            rt.register(v)
        for vid in ("a", "b", "e2", "e4", "e6"):
            assert rt.wait_ready(vid, 30)
        x = rt.experiments
        ab = x.start_ab_test(["a", "b"])
        shadow = x.start_shadow("a", "b", queue_size=256)
        ensemble = x.create_ensemble(["e2", "e4", "e6"], min_agreements=3)
        calls = {
            "plain routing": lambda i: rt.serve("m", {"i": i}, version_id="a").success,
            "a/b test": lambda i: x.serve(ab, {"i": i}).success,
            "shadow (100% mirrored)": lambda i: x.serve(shadow, {"i": i}).success,
            "slowest member alone (6 ms)": lambda i: rt.serve("e", {"i": i}, version_id="e6").success,
            "ensemble of 2, 4, 6 ms": lambda i: x.serve(ensemble, {"i": i}).success,
        }
        sizes = {name: (n if "ms" not in name else max(50, n // 10)) for name in calls}
        for name, call in calls.items():
            sequential(call, sizes[name] // 10)
        runs: dict[str, list[Run]] = {name: [] for name in calls}
        task = ctx.progress.add_task("experiments", total=repeats * len(calls))
        for _, name in interleave(list(calls), repeats):
            runs[name].append(sequential(calls[name], sizes[name]))
            ctx.progress.advance(task)
    finally:
        rt.stop()
    summary = {name: median_summary(r) for name, r in runs.items()}
    plain = summary["plain routing"]["p50_us"]
    rows = [
        [name, round(s["p50_us"], 1), round(s["p99_us"], 1), round(s["p50_us"] - plain, 1) if "ms" not in name else ""]
        for name, s in summary.items()
    ]
    slowest = summary["slowest member alone (6 ms)"]["p50_us"]
    targets = [
        Target(
            "experiments.ensemble_vs_slowest",
            "ensemble of 3 (2, 4, 6 ms) p50 ≤ 1.5× its slowest member, not the 12 ms sum",
            summary["ensemble of 2, 4, 6 ms"]["p50_us"] / slowest,
            1.5,
            False,
            "×",
        )
    ]
    return ScenarioResult(
        name="experiments",
        columns=["path", "p50 µs", "p99 µs", "added p50 µs vs plain routing"],
        rows=rows,
        targets=targets,
        raw={"summary": summary, "n": n, "repeats": repeats},
    )
