"""Regression tests for faults found by attacking the runtime's public API (the core's share)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from actorserve.actors import ServingRuntime
from actorserve.actors.messages import WaitReady
from actorserve.actors.reply import SyncReply, wait_budget
from actorserve.domain import (
    ConfigError,
    ErrorCode,
    InvocationResult,
    ModelRequest,
    ModelResponse,
    ModelStatus,
    ModelVersion,
    ServingConfig,
)
from tests.fakes import FakeInvoker, RecordingSink, eventually, make_version, status

Factory = Callable[..., ServingRuntime]


def ready(rt: ServingRuntime, *versions: ModelVersion) -> ServingRuntime:
    for v in versions:
        assert rt.register(v)
        assert rt.wait_ready(v.version_id, 5)
    return rt


# --- D3: deadlines too large to wait on -------------------------------------------------------------


@pytest.mark.parametrize("timeout_ms", [1e13, 1e300, 86_400_001.0])
def test_serve_with_a_deadline_beyond_a_day_is_invalid_input_not_an_exception(
    runtimes: Factory, timeout_ms: float
) -> None:
    rt = ready(runtimes(FakeInvoker()), make_version())
    r = rt.serve("chat", {"x": 1}, timeout_ms=timeout_ms)
    assert r.error_code is ErrorCode.INVALID_INPUT
    assert r.error is not None
    assert r.error.startswith("timeout_ms: must be a number > 0 and <= 86400000")


def test_aserve_with_a_huge_deadline_is_invalid_input(runtimes: Factory) -> None:
    rt = ready(runtimes(FakeInvoker()), make_version())
    r = asyncio.run(rt.aserve("chat", {"x": 1}, timeout_ms=1e13))
    assert r.error_code is ErrorCode.INVALID_INPUT


def test_a_deadline_of_exactly_one_day_is_served(runtimes: Factory) -> None:
    rt = ready(runtimes(FakeInvoker()), make_version())
    assert rt.serve("chat", {"x": 1}, timeout_ms=86_400_000.0).success


@pytest.mark.parametrize("field", ["timeout_ms", "drain_timeout_s", "batch_wait_ms", "health_check_period_s"])
def test_a_serving_config_with_a_wait_beyond_a_day_is_refused_by_name(field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{field}: must be a number >= 0 and|^{field}: must be a number > 0 and"):
        ServingConfig(**{field: 1e13})  # type: ignore[arg-type]


def test_one_version_with_a_long_default_deadline_leaves_serve_working_for_every_model(runtimes: Factory) -> None:
    rt = ready(
        runtimes(FakeInvoker()),
        make_version("v1", "chat", timeout_ms=86_400_000.0),
        make_version("v2", "other"),
    )
    assert rt.serve("other", {"x": 1}).success
    assert rt.serve("chat", {"x": 1}).success


def test_wait_ready_with_a_huge_timeout_waits_instead_of_raising(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    assert rt.register(make_version())
    assert rt.wait_ready("v1", timeout=1e11)
    assert rt.wait_ready("v1", timeout=float("inf"))


def test_wait_ready_refuses_a_timeout_that_is_not_a_number(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    with pytest.raises(ConfigError, match=r"^timeout: must be a number"):
        rt.wait_ready("v1", timeout="soon")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^timeout: must be a number"):
        rt.wait_ready("v1", timeout=float("nan"))


def test_stop_with_a_huge_budget_returns(runtimes: Factory) -> None:
    rt = ready(runtimes(FakeInvoker()), make_version())
    rt.stop(timeout=1e13)
    assert rt.stopped


@pytest.mark.parametrize("given", [1e13, float("inf"), float("nan"), -5.0])
def test_a_reply_wait_accepts_any_budget(given: float) -> None:
    reply: SyncReply[int] = SyncReply()
    reply.set(1)
    assert reply.wait(given)
    assert 0.0 <= wait_budget(given) <= threading.TIMEOUT_MAX


# --- D4: garbage from a backend ----------------------------------------------------------------------


class ScriptedInvoker(FakeInvoker):
    """Answers every request with `result`."""

    result: Any = None

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        return [self.result for _ in requests]


@pytest.mark.parametrize(
    ("result", "success", "code", "tokens"),
    [
        (InvocationResult(output="a", input_tokens=None, output_tokens=2), True, None, 2),  # type: ignore[arg-type]
        (InvocationResult(output="a", input_tokens=1, output_tokens="12"), True, None, 13),  # type: ignore[arg-type]
        (InvocationResult(output="a", output_tokens="lots"), False, ErrorCode.MODEL_ERROR, 0),  # type: ignore[arg-type]
        (InvocationResult(error="slow", error_code="timeout"), False, ErrorCode.TIMEOUT, 0),  # type: ignore[arg-type]
        (InvocationResult(error="boom", error_code=500), False, ErrorCode.MODEL_ERROR, 0),  # type: ignore[arg-type]
    ],
)
def test_a_malformed_result_costs_its_request_and_the_version_lives(
    runtimes: Factory, result: InvocationResult, success: bool, code: ErrorCode | None, tokens: int
) -> None:
    invoker = ScriptedInvoker()
    invoker.result = result
    rt = ready(runtimes(invoker), make_version())
    answers = [rt.serve("chat", {"i": i}) for i in range(20)]
    assert all((a.success, a.error_code, a.tokens_used) == (success, code, tokens) for a in answers)
    assert all(isinstance(a.error_code, ErrorCode) or a.error_code is None for a in answers)
    version = rt.get_version("v1")
    assert version is not None
    assert status(version) is ModelStatus.READY
    m = rt.get_metrics("v1")
    assert m is not None
    assert m.total_requests == 20


# --- D8: stop() from several threads -----------------------------------------------------------------


def test_every_concurrent_stop_returns_once_the_runtime_is_stopped(runtimes: Factory) -> None:
    rt = ready(runtimes(FakeInvoker()), make_version(drain_timeout_s=60.0))
    start = threading.Barrier(4)

    def stop() -> bool:
        start.wait(5)
        rt.stop()  # the budget is 70 s: a caller left waiting it out fails the result() timeout below
        return rt.stopped

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(stop) for _ in range(4)]
        assert all(f.result(timeout=15) for f in futures)
    assert rt.threads() == []


# --- D10: unload racing a load that fails ------------------------------------------------------------


class BlockingSink(RecordingSink):
    """Blocks the registry inside `status_changed` for one version's STOPPED until released."""

    def __init__(self, block_on: str) -> None:
        super().__init__()
        self.block_on = block_on
        self.entered = threading.Event()
        self.release = threading.Event()

    def status_changed(self, version: ModelVersion, status: ModelStatus, at: float) -> None:
        super().status_changed(version, status, at)
        if version.version_id == self.block_on and status is ModelStatus.STOPPED:
            self.entered.set()
            self.release.wait(10)


class FailingLoads(FakeInvoker):
    """`blocker` fails to load at once; `v1` fails once `v1_gate` is set."""

    v1_gate: threading.Event = threading.Event()

    def load(self, version: ModelVersion) -> object:
        if version.version_id == "v1" and self.v1_gate.is_set() is False:
            self.v1_gate.wait(10)
            msg = "v1 cannot load"
            raise RuntimeError(msg)
        if version.version_id == "blocker":
            msg = "blocker cannot load"
            raise RuntimeError(msg)
        return super().load(version)


def test_unload_racing_a_failed_load_still_stops_the_version_and_frees_its_id(runtimes: Factory) -> None:
    invoker = FailingLoads()
    invoker.v1_gate = threading.Event()
    sink = BlockingSink("blocker")
    rt = runtimes(invoker, metrics_sink=sink)
    assert rt.register(make_version("blocker", load_retries=0))
    assert not rt.wait_ready("blocker", 5)  # FAILED for good, its actor gone
    assert rt.register(make_version("v1", load_retries=0))
    inbox: queue.SimpleQueue[object] = rt._registry.actor_inbox  # type: ignore[assignment]  # ServingActor's
    with ThreadPoolExecutor(2) as pool:
        # hold the registry inside the blocker's unload, queue v1's Unload behind it, then let v1's load fail
        unload_blocker = pool.submit(rt.unload, "blocker")
        assert sink.entered.wait(5)
        unload_v1 = pool.submit(rt.unload, "v1")
        assert eventually(lambda: inbox.qsize() >= 1)
        invoker.v1_gate.set()
        assert sink.wait_for("v1", ModelStatus.FAILED)
        assert eventually(lambda: inbox.qsize() >= 3)  # Unload, then v1's FAILED and Ended
        sink.release.set()
        assert unload_blocker.result(timeout=5)
        assert unload_v1.result(timeout=5)
    v1 = rt.get_version("v1")
    assert v1 is not None
    assert eventually(lambda: status(v1) is ModelStatus.STOPPED)
    assert rt.register(make_version("v1", load_retries=0))  # the id is free again


# --- D11: waiters that gave up -----------------------------------------------------------------------


def test_polling_wait_ready_on_a_hanging_load_keeps_no_waiters(runtimes: Factory) -> None:
    gate = threading.Event()
    rt = runtimes(FakeInvoker(load_gate=gate))
    assert rt.register(make_version())
    for _ in range(2000):
        assert not rt.wait_ready("v1", 0)
        assert not rt.wait_ready("chat", 0)
    registry = rt._registry._actor_weakref()
    assert registry is not None
    sync: SyncReply[bool] = SyncReply()
    rt._registry.tell(WaitReady("no-such-version", sync))  # one round trip: every poll before it was handled
    assert sync.wait(5)
    assert len(registry._entries["v1"].waiters) <= 1
    assert len(registry._model_waiters.get("chat", [])) <= 1
    gate.set()
    assert rt.wait_ready("v1", 5)


# --- D12: every request counted once, whatever its end -----------------------------------------------


def _cancelled(request_id: str) -> ModelResponse:
    return ModelResponse(
        request_id=request_id,
        model_id="chat",
        version_id="v1",
        output_data=None,
        latency_ms=1.0,
        success=False,
        error="Caller cancelled",
        error_code=ErrorCode.CANCELLED,
    )


def test_requests_the_caller_cancelled_are_counted_even_when_refused_at_admission(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready(runtimes(invoker), make_version(max_queue=1, pipeline_depth=1))
    running: SyncReply[ModelResponse] = SyncReply()
    queued: SyncReply[ModelResponse] = SyncReply()
    rt.submit("chat", {"i": 0}, running)
    assert invoker.started.acquire(timeout=5)
    rt.submit("chat", {"i": 1}, queued)
    cancelled = []
    for i in range(10):
        reply: SyncReply[ModelResponse] = SyncReply()
        reply.set(_cancelled(f"gone-{i}"))  # the caller gave up before the version saw it
        rt.submit("chat", {"i": i}, reply)
        cancelled.append(reply)
    refused: SyncReply[ModelResponse] = SyncReply()
    rt.submit("chat", {"i": 99}, refused)  # queued behind the cancelled ones: when answered, they were handled
    assert refused.wait(5)
    assert refused.value().error_code is ErrorCode.OVERLOADED
    gate.set()
    assert rt.await_reply(running, 5).success
    assert rt.await_reply(queued, 5).success
    m = rt.get_metrics("v1")
    assert m is not None
    assert m.total_requests == 13
    assert m.errors_by_code == {"cancelled": 10, "overloaded": 1}


def test_cancelled_async_requests_are_all_counted(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready(runtimes(invoker), make_version(max_queue=4, pipeline_depth=1))

    async def flood() -> None:
        tasks = [asyncio.ensure_future(rt.aserve("chat", {"i": i})) for i in range(300)]
        await asyncio.sleep(0)  # every task submitted its request
        for task in tasks[1:]:
            task.cancel()
        gate.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(flood())
    assert eventually(lambda: (m := rt.get_metrics("v1")) is not None and m.total_requests == 300)


# --- facade contract: the registered object reads DRAINING once unload returns -----------------------


def test_the_registered_object_reads_draining_as_soon_as_unload_returns(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    v = make_version()
    rt = ready(runtimes(invoker), v)
    held: SyncReply[ModelResponse] = SyncReply()
    rt.submit("chat", {"x": 1}, held)
    assert invoker.started.acquire(timeout=5)
    assert rt.unload("v1")
    assert status(v) is ModelStatus.DRAINING
    gate.set()
    assert rt.await_reply(held, 5).success
    assert eventually(lambda: status(v) is ModelStatus.STOPPED)


def test_a_version_unloaded_while_loading_never_reads_ready_again(runtimes: Factory) -> None:
    gate = threading.Event()
    sink = RecordingSink()
    v = make_version()
    rt = runtimes(FakeInvoker(load_gate=gate), metrics_sink=sink)
    assert rt.register(v)
    assert rt.unload("v1")
    assert status(v) in (ModelStatus.DRAINING, ModelStatus.STOPPED)  # nothing held: the drain may end at once
    gate.set()
    assert sink.wait_for("v1", ModelStatus.STOPPED)
    assert status(v) is ModelStatus.STOPPED
