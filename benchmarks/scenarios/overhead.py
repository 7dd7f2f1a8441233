"""overhead: a zero-work model, one caller, sequential: what serving adds to a direct call."""

from __future__ import annotations

from benchmarks import ray_client
from benchmarks.contenders import IN_PROCESS, make
from benchmarks.context import Context
from benchmarks.harness import Run, ScenarioResult, Target, interleave, median_summary
from benchmarks.models import ZeroWork


def run(ctx: Context) -> ScenarioResult:
    n = ctx.pick(3000, 300)
    repeats = ctx.pick(5, 2)
    contenders = {name: make(name, ZeroWork) for name in IN_PROCESS}
    peers: dict[str, ray_client.RayPeer] = {}
    notes = []
    if ctx.ray and ray_client.available():
        for name, local in (("ray-serve", False), ("ray-local-testing", True)):
            peer = ray_client.RayPeer(local=local)
            peer.setup("zero", replicas=1, max_ongoing=64)
            peers[name] = peer
    else:
        notes.append(ray_client.NOT_INSTALLED if ctx.ray else "Ray Serve skipped (--no-ray)")
    names = [*contenders, *peers]
    runs: dict[str, list[Run]] = {name: [] for name in names}
    footprint: dict[str, float] = {}
    try:
        if "ray-serve" in peers:
            cold, rss = ray_client.actorserve_cold_start_and_rss()
            footprint = {
                "actorserve_cold_start_s": cold,
                "actorserve_idle_rss_bytes": rss,
                "ray_cold_start_s": peers["ray-serve"].cold_start_s or float("nan"),
                "ray_idle_rss_bytes": peers["ray-serve"].rss(),
            }
        for contender in contenders.values():  # warm-up
            ctx.measure(contender, n // 10)
        task = ctx.progress.add_task("overhead", total=repeats * len(names))
        for _, name in interleave(names, repeats):
            runs[name].append(peers[name].sequential(n) if name in peers else ctx.measure(contenders[name], n))
            ctx.progress.advance(task)
    finally:
        for contender in contenders.values():
            contender.close()
        for peer in peers.values():
            peer.close()

    summary = {name: median_summary(r) for name, r in runs.items()}
    direct = summary["direct"]["p50_us"]
    bare = summary["bare-pykka"]
    rows = [
        [
            name,
            round(s["p50_us"], 1),
            round(s["p99_us"], 1),
            round(s["p50_us"] - direct, 1),
            round(s["p50_us"] / bare["p50_us"], 2),
        ]
        for name, s in summary.items()
    ]
    ours = summary["actorserve"]
    targets = [
        Target(
            "overhead.p50_vs_bare",
            "serve() p50 ≤ 1.3× a bare Pykka chain of the same shape",
            ours["p50_us"] / bare["p50_us"],
            1.3,
            False,
            "×",
        ),
        Target("overhead.p99", "serve() p99 ≤ 1 ms", ours["p99_us"], 1000.0, False, "µs"),
    ]
    if "ray-serve" in summary:
        ray_p50 = summary["ray-serve"]["p50_us"]
        targets.append(
            Target(
                "overhead.p50_vs_ray", "sequential p50 ≤ 1/10 of Ray Serve's", ours["p50_us"] / ray_p50, 0.1, False, "×"
            )
        )
    if footprint:
        f = footprint
        rss_ratio = f["actorserve_idle_rss_bytes"] / f["ray_idle_rss_bytes"]
        cold_ratio = f["actorserve_cold_start_s"] / f["ray_cold_start_s"]
        targets.append(
            Target(
                "footprint.rss_vs_ray",
                "idle RSS with one version ≤ 1/10 of Ray Serve's process tree",
                rss_ratio,
                0.1,
                False,
                "×",
            )
        )
        targets.append(
            Target(
                "footprint.cold_start_vs_ray",
                "cold start (import → first answer) ≤ 1/20 of Ray Serve's",
                cold_ratio,
                0.05,
                False,
                "×",
            )
        )
        notes.append(
            f"idle RSS: actorserve {f['actorserve_idle_rss_bytes'] / 2**20:.0f} MiB vs Ray Serve {f['ray_idle_rss_bytes'] / 2**20:.0f} MiB; "
            f"cold start: actorserve {f['actorserve_cold_start_s']:.2f} s vs Ray Serve {f['ray_cold_start_s']:.2f} s"
        )
    return ScenarioResult(
        name="overhead",
        columns=["contender", "p50 µs", "p99 µs", "added p50 µs vs direct", "p50 / bare chain"],
        rows=rows,
        targets=targets,
        raw={
            "n": n,
            "repeats": repeats,
            "footprint": footprint,
            "summary": summary,
            "runs": {k: [r.summary() for r in v] for k, v in runs.items()},
        },
        notes=notes,
    )
