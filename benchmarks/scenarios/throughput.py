"""throughput: zero-work and 5 ms I/O-bound models under 1-128 concurrent callers."""

from __future__ import annotations

from benchmarks import plots, ray_client
from benchmarks.contenders import make
from benchmarks.context import Context
from benchmarks.harness import Run, ScenarioResult, Target, interleave, median_summary
from benchmarks.models import SleepIO, ZeroWork

CONTENDERS = ("bare-pykka", "shared-lock", "actorserve", "actorserve-async")
WIDE = "actorserve (replicas = callers)"


def _series(
    ctx: Context,
    model: type,
    replicas: int,
    levels: list[int],
    n: int,
    repeats: int,
    task: object,
    *,
    wide: bool = False,
) -> dict[str, dict[int, dict[str, float]]]:
    names = [*CONTENDERS, WIDE] if wide else list(CONTENDERS)
    out: dict[str, dict[int, dict[str, float]]] = {name: {} for name in names}
    for level in levels:
        contenders = {name: make(name, model, replicas=replicas) for name in CONTENDERS}
        if wide:
            contenders[WIDE] = make("actorserve", model, replicas=level)
        runs: dict[str, list[Run]] = {name: [] for name in names}
        try:
            for contender in contenders.values():
                ctx.measure(contender, max(level, n // 10), level)
            for _, name in interleave(names, repeats):
                runs[name].append(ctx.measure(contenders[name], n, level))
                ctx.progress.advance(task)
        finally:
            for contender in contenders.values():
                contender.close()
        for name in names:
            out[name][level] = median_summary(runs[name])
    return out


def run(ctx: Context) -> ScenarioResult:
    levels = ctx.pick([1, 8, 32, 64, 128], [1, 8])
    repeats = ctx.pick(3, 1)
    sleep_levels = ctx.pick([8, 64, 128], [8])
    task = ctx.progress.add_task(
        "throughput", total=repeats * (len(CONTENDERS) * len(levels) + (len(CONTENDERS) + 1) * len(sleep_levels))
    )
    zero = _series(ctx, ZeroWork, 1, levels, ctx.pick(6000, 600), repeats, task)
    sleep = _series(ctx, SleepIO, 16, sleep_levels, ctx.pick(3000, 300), repeats, task, wide=True)
    notes: list[str] = []
    ray: dict[str, dict[str, float]] = {}
    if ctx.ray and ray_client.available() and not ctx.quick:
        for label, model, local, max_ongoing in (
            ("ray-serve zero 64 in flight (max_ongoing_requests=64)", "zero", False, 64),
            ("ray-serve zero 64 in flight (default max_ongoing_requests=5)", "zero", False, 5),
            ("ray-local-testing sleep5ms 64 in flight", "sleep5ms", True, 64),
        ):
            peer = ray_client.RayPeer(local=local)
            try:
                peer.setup(model, replicas=1, max_ongoing=max_ongoing)
                peer.concurrent(500, 64)
                ray[label] = median_summary([peer.concurrent(3000, 64) for _ in range(repeats)])
            finally:
                peer.close()
    elif ctx.ray and not ray_client.available():
        notes.append(ray_client.NOT_INSTALLED)

    rows = []
    for model_name, data, replicas in (("zero", zero, 1), ("sleep5ms", sleep, 16)):
        for name, by_level in data.items():
            for level, s in by_level.items():
                shown = level if name == WIDE else replicas
                rows.append(
                    [
                        model_name,
                        name,
                        shown,
                        level,
                        round(s["throughput_rps"]),
                        round(s["p50_us"], 1),
                        round(s["p99_us"], 1),
                    ]
                )
    for label, s in ray.items():
        rows.append(
            [label.split()[1], label, 1, 64, round(s["throughput_rps"]), round(s["p50_us"], 1), round(s["p99_us"], 1)]
        )

    targets = []
    if 8 in levels:
        ratio = zero["actorserve"][8]["throughput_rps"] / zero["bare-pykka"][8]["throughput_rps"]
        targets.append(
            Target(
                "throughput.zero8_vs_bare", "zero-work, 8 callers: ≥ 0.7× the bare Pykka chain", ratio, 0.7, True, "×"
            )
        )
    top = max(sleep_levels)
    if 64 in sleep_levels:
        top = 64
    ours = sleep["actorserve"][top]["throughput_rps"]
    cpu_limit = max(zero["actorserve"][lvl]["throughput_rps"] for lvl in zero["actorserve"])
    ideal = min(16 / 0.005, cpu_limit) if top >= 16 else top / 0.005
    targets.append(
        Target(
            "throughput.sleep_vs_ideal",
            f"5 ms model, {top} callers, 16 replicas: ≥ 85% of min(ideal {16 / 0.005:.0f}/s, CPU limit {cpu_limit:.0f}/s)",
            ours / ideal,
            0.85,
            True,
            "×",
        )
    )
    targets.append(
        Target(
            "throughput.sleep_vs_shared_lock",
            f"5 ms model, {top} callers, 16 replicas: at least the shared-lock design (which runs all {top} at once)",
            ours / sleep["shared-lock"][top]["throughput_rps"],
            1.0,
            True,
            "×",
        )
    )
    targets.append(
        Target(
            "throughput.sleep_wide_vs_shared_lock",
            f"5 ms model, {top} callers, replicas = callers: at least the shared-lock design",
            sleep[WIDE][top]["throughput_rps"] / sleep["shared-lock"][top]["throughput_rps"],
            1.0,
            True,
            "×",
        )
    )
    key = "ray-serve zero 64 in flight (max_ongoing_requests=64)"
    if key in ray and 64 in levels:
        targets.append(
            Target(
                "throughput.vs_ray_handle",
                "zero-work, 64 in flight: ≥ 10× Ray Serve via its handle",
                zero["actorserve"][64]["throughput_rps"] / ray[key]["throughput_rps"],
                10.0,
                True,
                "×",
            )
        )
    key = "ray-local-testing sleep5ms 64 in flight"
    if key in ray and 64 in sleep_levels:
        targets.append(
            Target(
                "throughput.vs_ray_local",
                "5 ms model, 64 in flight (replicas = callers): ≥ 1.5× Ray Serve's _local_testing_mode",
                sleep[WIDE][64]["throughput_rps"] / ray[key]["throughput_rps"],
                1.5,
                True,
                "×",
            )
        )

    plot_files = plots.latency_vs_concurrency(ctx.out_dir, zero, "throughput-zero-latency.png")
    return ScenarioResult(
        name="throughput",
        columns=["model", "contender", "replicas", "callers", "req/s", "p50 µs", "p99 µs"],
        rows=rows,
        targets=targets,
        raw={
            "zero": zero,
            "sleep5ms": sleep,
            "ray": ray,
            "levels": levels,
            "sleep_levels": sleep_levels,
            "repeats": repeats,
        },
        notes=notes,
        plots=plot_files,
    )
