"""drain: unload the version taking all the traffic, under load: requests lost, time to STOPPED."""

from __future__ import annotations

import threading
import time
from collections import Counter

from actorserve.actors import NullSink, ServingRuntime
from actorserve.domain import ModelStatus, ModelVersion
from benchmarks.contenders import version
from benchmarks.context import Context
from benchmarks.harness import ScenarioResult, Target
from benchmarks.models import SleepIO


class _StopWatch(NullSink):
    active = True

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.at = 0.0

    def status_changed(self, v: ModelVersion, status: ModelStatus, at: float) -> None:
        if v.version_id == "v2" and status is ModelStatus.STOPPED:
            self.at = time.perf_counter()
            self.stopped.set()


def run(ctx: Context) -> ScenarioResult:
    callers = 32
    per_caller = ctx.pick(300, 60)
    watch = _StopWatch()
    rt = ServingRuntime(SleepIO(0.002), metrics_sink=watch)
    codes: Counter[str] = Counter()
    answered = 0
    lock = threading.Lock()
    half = threading.Barrier(callers + 1)
    task = ctx.progress.add_task("drain", total=callers)
    try:
        rt.register(version("v1", "m", replicas=4))
        v2 = version("v2", "m", replicas=4)
        v2.version_number = "2.0.0"
        rt.register(v2)
        assert rt.wait_ready("v1", 30) and rt.wait_ready("v2", 30)

        def client() -> None:
            nonlocal answered
            for i in range(per_caller):
                if i == per_caller // 2:
                    half.wait(60)
                r = rt.serve("m", {"i": i}, timeout_ms=10_000)
                with lock:
                    answered += 1
                    codes["ok" if r.success else (r.error_code.value if r.error_code else "error")] += 1
            ctx.progress.advance(task)

        threads = [threading.Thread(target=client) for _ in range(callers)]
        for t in threads:
            t.start()
        half.wait(60)
        unloaded_at = time.perf_counter()
        rt.unload("v2")
        for t in threads:
            t.join(120)
        watch.stopped.wait(60)
        drain_s = watch.at - unloaded_at if watch.stopped.is_set() else float("nan")
    finally:
        rt.stop()
    sent = callers * per_caller
    lost = sent - codes["ok"]
    rows = [[sent, answered, codes["ok"], lost, dict(codes), round(drain_s * 1000, 1)]]
    return ScenarioResult(
        name="drain",
        columns=["requests", "answered", "ok", "lost", "answers by code", "time to STOPPED ms"],
        rows=rows,
        targets=[Target("drain.lost", "unload under load loses no request", float(lost), 0.0, False, "requests")],
        raw={"callers": callers, "per_caller": per_caller, "codes": dict(codes), "drain_s": drain_s},
    )
