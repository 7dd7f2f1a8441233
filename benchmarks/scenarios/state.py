"""state: an A/B test's request path with a SQLite and a Redis state store against memory only; the events a store absorbs.

The same runtime, versions and test in each case; only `state=` differs. Each
request through the test is counted into the shared statistics and its arm is
remembered for outcomes, all written behind by the state actor, so the request
path should not notice the store. The second half tells the state actor
100,000 statistics events (one A/B observation's counters each) and times until
the store has them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actorserve.actors import ServingRuntime
from actorserve.actors.messages import Count, FlushState
from actorserve.actors.reply import SyncReply
from actorserve.adapters import SimulatedInvoker
from actorserve.domain.abarms import ArmStats
from actorserve.domain.abcounters import arm_counters
from benchmarks.contenders import version
from benchmarks.context import Context
from benchmarks.harness import Run, ScenarioResult, Target, closed_loop, interleave, median_summary, sequential

EVENTS = 100_000


@contextmanager
def redis_url(folder: Path) -> Iterator[str | None]:
    """A redis-server of the benchmark's own on a unix socket, or None when it is not installed."""
    server = shutil.which("redis-server")
    if server is None:
        yield None
        return
    sock = folder / "redis.sock"
    args = [server, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            proc.wait(0.02) if proc.poll() is not None else time.sleep(0.02)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _runtime(url: str | None) -> ServingRuntime:
    rt = ServingRuntime(SimulatedInvoker(), state=url, seed=1)
    for vid in ("a", "b"):
        rt.register(version(vid, "m"))
    for vid in ("a", "b"):
        assert rt.wait_ready(vid, 30)
    rt.experiments.start_ab_test(["a", "b"], test_id="bench")
    return rt


def _events_per_s(rt: ServingRuntime) -> float | None:
    actor = rt._state.actor
    if actor is None:
        return None
    arm = ArmStats()
    arm.assign("user-1")
    arm.record(success=True, latency_ms=3.0, cost_usd=0.0001, tokens=12, error_code=None, key="user-1")
    fields, units = arm_counters(arm)
    started = time.perf_counter()
    for i in range(EVENTS):
        actor.tell(Count({("ab_arm", f"bench/{i % 2}"): fields, ("ab_unit", f"bench/{i % 2}"): units}))
    reply: SyncReply[bool] = SyncReply()
    actor.tell(FlushState(reply))
    assert reply.wait(120) and reply.value()
    return EVENTS / (time.perf_counter() - started)


def run(ctx: Context) -> ScenarioResult:
    n = ctx.pick(3000, 300)
    repeats = ctx.pick(3, 1)
    with tempfile.TemporaryDirectory() as tmp, redis_url(Path(tmp)) as redis:
        urls: dict[str, str | None] = {"memory": None, "sqlite": f"sqlite:///{tmp}/state.db"}
        if redis is not None:
            urls["redis"] = redis
        runtimes = {name: _runtime(url) for name, url in urls.items()}
        try:
            calls = {
                name: (lambda i, rt=rt: rt.experiments.serve("bench", {"i": i}, key=f"user-{i % 500}").success)
                for name, rt in runtimes.items()
            }
            for call in calls.values():
                sequential(call, n // 10)
            seq: dict[str, list[Run]] = {name: [] for name in calls}
            par: dict[str, list[Run]] = {name: [] for name in calls}
            task = ctx.progress.add_task("state", total=repeats * len(calls) * 2)
            for _, name in interleave(list(calls), repeats):
                seq[name].append(sequential(calls[name], n))
                ctx.progress.advance(task)
                par[name].append(closed_loop(calls[name], 8, n * 2))
                ctx.progress.advance(task)
            rates = {name: _events_per_s(rt) for name, rt in runtimes.items()}
        finally:
            for rt in runtimes.values():
                rt.stop()
    p50 = {name: median_summary(r)["p50_us"] for name, r in seq.items()}
    tput = {name: median_summary(r)["throughput_rps"] for name, r in par.items()}
    rows = [
        [
            name,
            round(p50[name], 1),
            round(p50[name] / p50["memory"], 2),
            round(tput[name]),
            round(tput[name] / tput["memory"], 2),
            "" if rates[name] is None else f"{rates[name]:,.0f}",
        ]
        for name in calls
    ]
    targets = []
    for name in ("sqlite", "redis"):
        if name not in calls:
            continue
        targets += [
            Target(
                f"state.{name}.p50",
                f"A/B serve() p50 with {name} ≤ 1.1× memory only",
                p50[name] / p50["memory"],
                1.1,
                False,
                "×",
            ),
            Target(
                f"state.{name}.throughput",
                f"8-caller throughput with {name} ≥ 0.9× memory only",
                tput[name] / tput["memory"],
                0.9,
                True,
                "×",
            ),
            Target(
                f"state.{name}.events", f"statistics events {name} absorbs, batched", rates[name], 50_000, True, "/s"
            ),
        ]
    notes = [] if "redis" in calls else ["redis-server is not installed: the Redis rows are missing"]
    return ScenarioResult(
        name="state",
        columns=["state", "p50 µs", "p50 vs memory", "8-caller req/s", "req/s vs memory", "events/s absorbed"],
        rows=rows,
        targets=targets,
        raw={"p50_us": p50, "throughput": tput, "events_per_s": rates, "n": n, "repeats": repeats},
        notes=notes,
    )
