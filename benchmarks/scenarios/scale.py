"""scale: 10, 100, 1,000 registered versions: time to READY, memory and threads per version, routing latency."""

from __future__ import annotations

import gc
import random
import threading
import time

from actorserve.actors import ServingRuntime
from benchmarks.contenders import version
from benchmarks.context import Context
from benchmarks.harness import Run, ScenarioResult, Target, rss_bytes
from benchmarks.models import ZeroWork


def _measure(count: int, requests: int) -> dict[str, float]:
    gc.collect()
    threads_before = threading.active_count()
    rss_before = rss_bytes()
    rt = ServingRuntime(ZeroWork())
    try:
        started = time.perf_counter()
        for i in range(count):
            rt.register(version(f"v{i}", f"m{i}"))
        for i in range(count):
            if not rt.wait_ready(f"v{i}", 120):
                msg = f"v{i} never became READY"
                raise RuntimeError(msg)
        ready_s = time.perf_counter() - started
        rss_after = rss_bytes()
        threads = threading.active_count() - threads_before
        rng = random.Random(1)
        spread = [f"m{rng.randrange(count)}" for _ in range(requests)]
        hot = ["m0"] * requests
        runs = {}
        for label, names in (("hot", hot), ("spread", spread)):
            for name in names[: requests // 10]:
                rt.serve(name, {})
            perf = time.perf_counter_ns
            latencies = []
            t0 = perf()
            for name in names:
                s = perf()
                rt.serve(name, {})
                latencies.append((perf() - s) / 1000)
            runs[label] = Run(latencies, (perf() - t0) / 1e9)
    finally:
        rt.stop()
    return {
        "versions": count,
        "ready_s": ready_s,
        "rss_per_version_kib": (rss_after - rss_before) / count / 1024,
        "threads_per_version": threads / count,
        "routing_p50_us": runs["hot"].percentile(50),
        "routing_p99_us": runs["hot"].percentile(99),
        "spread_p50_us": runs["spread"].percentile(50),
        "spread_p99_us": runs["spread"].percentile(99),
    }


def run(ctx: Context) -> ScenarioResult:
    counts = ctx.pick([10, 100, 1000], [10, 50])
    requests = ctx.pick(3000, 300)
    task = ctx.progress.add_task("scale", total=len(counts))
    results = []
    for count in counts:
        results.append(_measure(count, requests))
        ctx.progress.advance(task)
    rows = [
        [
            r["versions"],
            round(r["ready_s"], 2),
            round(r["rss_per_version_kib"], 1),
            round(r["threads_per_version"], 2),
            round(r["routing_p50_us"], 1),
            round(r["routing_p99_us"], 1),
        ]
        for r in results
    ]
    first, last = results[0], results[-1]
    targets = [
        Target(
            "scale.routing_flat",
            f"serve p50 to one model with {last['versions']} versions registered ≤ 1.5× with {first['versions']}",
            last["routing_p50_us"] / first["routing_p50_us"],
            1.5,
            False,
            "×",
        ),
        Target(
            "scale.memory_per_version",
            "RSS per idle version (one replica, model excluded) ≤ 1 MiB",
            last["rss_per_version_kib"],
            1024.0,
            False,
            "KiB",
        ),
    ]
    notes = [
        "random models: every request wakes a different version's threads, so caches are cold; "
        "the routing table lookup itself is a dict access and does not grow with the count"
    ]
    return ScenarioResult(
        name="scale",
        notes=notes,
        columns=[
            "versions",
            "time to READY s",
            "RSS / version KiB",
            "threads / version",
            "routing p50 µs",
            "routing p99 µs",
        ],
        rows=rows,
        targets=targets,
        raw={"results": results},
    )
