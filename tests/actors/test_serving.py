from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from actorserve.actors import ServingRuntime
from actorserve.domain import ErrorCode, ModelResponse, ModelStatus, RoutingStrategy
from tests.fakes import FakeInvoker, RecordingSink, make_version, submit_many

Factory = Callable[..., ServingRuntime]


def ready_runtime(
    runtimes: Factory, invoker: FakeInvoker | None = None, *versions: object, **kw: object
) -> ServingRuntime:
    rt = runtimes(invoker or FakeInvoker(), **kw)
    for v in versions or (make_version(),):
        assert rt.register(v)  # type: ignore[arg-type]
        assert rt.wait_ready(v.version_id, 5)  # type: ignore[attr-defined]
    return rt


def test_serve_answers_with_the_model_output_and_a_positive_latency(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes)
    r = rt.serve("chat", {"prompt": "hi"})
    assert r.success and r.error is None and r.error_code is None
    assert r.output_data == {"echo": {"prompt": "hi"}, "out": "ok"}
    assert (r.model_id, r.version_id, r.tokens_used) == ("chat", "v1", 5)
    assert r.latency_ms > 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input_data": ["not", "a", "dict"]}, "input_data"),
        ({"input_data": "text"}, "input_data"),
        ({"parameters": [1]}, "parameters"),
        ({"model_name": ""}, "model_name"),
        ({"model_name": None}, "model_name"),
        ({"version_id": ""}, "version_id"),
        ({"timeout_ms": -1}, "timeout_ms"),
        ({"timeout_ms": 0}, "timeout_ms"),
        ({"key": 5}, "key"),
    ],
)
def test_bad_requests_are_answered_invalid_input_naming_the_field(
    runtimes: Factory, kwargs: dict[str, object], field: str
) -> None:
    rt = ready_runtime(runtimes)
    args: dict[str, object] = {"model_name": "chat", "input_data": {"prompt": "x"}}
    args.update(kwargs)
    model_name, input_data = args.pop("model_name"), args.pop("input_data")
    r = rt.serve(model_name, input_data, **args)  # type: ignore[arg-type]
    assert (r.success, r.error_code) == (False, ErrorCode.INVALID_INPUT)
    assert r.error is not None
    assert r.error.startswith(f"{field}:")


def test_unknown_model_or_version_is_not_found(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes)
    assert rt.serve("nope", {}).error_code is ErrorCode.NOT_FOUND
    assert rt.serve("chat", {}, version_id="v9").error_code is ErrorCode.NOT_FOUND
    assert rt.serve("other", {}, version_id="v1").error_code is ErrorCode.NOT_FOUND


def test_a_full_queue_answers_overloaded_at_once(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready_runtime(runtimes, invoker, make_version(max_queue=2, pipeline_depth=1))
    replies = submit_many(rt, 4)
    assert invoker.started.acquire(timeout=5)  # one running, two queued, the fourth refused
    assert replies[3].wait(5)
    assert replies[3].value().error_code is ErrorCode.OVERLOADED
    gate.set()
    assert all(rt.await_reply(r, 5).success for r in replies[:3])
    m = rt.get_metrics("v1")
    assert m is not None
    assert m.errors_by_code == {"overloaded": 1}


def test_a_queued_request_times_out_at_its_deadline_while_work_ahead_still_runs(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready_runtime(runtimes, invoker)
    from actorserve.actors.reply import SyncReply

    first: SyncReply[ModelResponse] = SyncReply()
    rt.submit("chat", {"n": 1}, first, timeout_ms=60_000)
    assert invoker.started.acquire(timeout=5)
    r = rt.serve("chat", {"n": 2}, timeout_ms=50)
    assert (r.success, r.error_code) == (False, ErrorCode.TIMEOUT)
    assert not first.done  # the work ahead is still running
    gate.set()
    assert rt.await_reply(first, 5).success
    assert invoker.batch_sizes == [1]  # the timed-out request was never started


def test_an_in_flight_request_is_answered_timeout_at_its_deadline(runtimes: Factory) -> None:
    invoker = FakeInvoker(gate=threading.Event())
    rt = ready_runtime(runtimes, invoker)
    r = rt.serve("chat", {}, timeout_ms=50)
    assert r.error_code is ErrorCode.TIMEOUT
    assert r.latency_ms >= 50


def test_the_version_default_timeout_applies(runtimes: Factory) -> None:
    invoker = FakeInvoker(gate=threading.Event())
    rt = ready_runtime(runtimes, invoker, make_version(timeout_ms=40))
    assert rt.serve("chat", {}).error_code is ErrorCode.TIMEOUT


def test_model_errors_become_model_error_responses(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes, FakeInvoker(fail_with=ZeroDivisionError("boom")))
    r = rt.serve("chat", {})
    assert (r.success, r.error_code, r.error) == (False, ErrorCode.MODEL_ERROR, "ZeroDivisionError: boom")


def test_even_base_exceptions_from_the_model_are_fenced(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes, FakeInvoker(fail_with=KeyboardInterrupt()))
    assert rt.serve("chat", {}).error_code is ErrorCode.MODEL_ERROR
    assert rt.serve("chat", {}).error_code is ErrorCode.MODEL_ERROR  # the actors survived


def test_a_malformed_invoker_result_is_a_model_error(runtimes: Factory) -> None:
    class Bad(FakeInvoker):
        def invoke_batch(self, handle: object, requests: object, timeout_s: float) -> list[object]:  # type: ignore[override]
            return [{"not": "a result"}]

    rt = ready_runtime(runtimes, Bad())
    r = rt.serve("chat", {})
    assert r.error_code is ErrorCode.MODEL_ERROR
    assert "not InvocationResult" in (r.error or "")


def test_a_busy_worker_gets_its_next_request_into_its_inbox(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready_runtime(runtimes, invoker, make_version(max_queue=2))  # pipeline_depth 2 by default
    replies = submit_many(rt, 5)  # one running, one waiting at the worker, two queued, one refused
    assert invoker.started.acquire(timeout=5)
    assert replies[4].wait(5)
    assert replies[4].value().error_code is ErrorCode.OVERLOADED
    m = rt.get_metrics("v1")
    assert m is not None
    assert (m.in_flight, m.queue_depth) == (2, 2)
    gate.set()
    assert all(rt.await_reply(r, 5).success for r in replies[:4])


def test_requests_are_batched_up_to_max_batch_size(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready_runtime(runtimes, invoker, make_version(max_batch_size=8, batch_wait_ms=20))
    replies = submit_many(rt, 17)
    gate.set()
    assert all(rt.await_reply(r, 5).success for r in replies)
    assert sum(invoker.batch_sizes) == 17
    assert max(invoker.batch_sizes) == 8


def test_a_partial_batch_waits_at_most_batch_wait(runtimes: Factory) -> None:
    invoker = FakeInvoker()
    rt = ready_runtime(runtimes, invoker, make_version(max_batch_size=32, batch_wait_ms=30))
    r = rt.serve("chat", {})
    assert r.success
    assert r.latency_ms >= 25
    assert invoker.batch_sizes == [1]


def test_max_concurrency_caps_requests_executing_at_once(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready_runtime(runtimes, invoker, make_version(replicas=4, max_concurrency=2))
    replies = submit_many(rt, 6)
    assert invoker.started.acquire(timeout=5)
    assert invoker.started.acquire(timeout=5)
    assert not invoker.started.acquire(timeout=0.1)
    m = rt.get_metrics("v1")
    assert m is not None
    assert (m.in_flight, m.queue_depth) == (2, 4)
    gate.set()
    assert all(rt.await_reply(r, 5).success for r in replies)


def test_without_a_rule_the_newest_ready_version_serves(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes, None, make_version("v1", number="1.0.0"), make_version("v2", number="2.0.0"))
    assert {rt.serve("chat", {}).version_id for _ in range(10)} == {"v2"}
    assert rt.serve("chat", {}, version_id="v1").version_id == "v1"


def test_weighted_routing_splits_traffic(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes, None, make_version("v1"), make_version("v2"), rng=random.Random(5))
    rt.set_routing("chat", RoutingStrategy.WEIGHTED, weights={"v1": 0.8, "v2": 0.2})
    counts = Counter(rt.serve("chat", {}).version_id for _ in range(1000))
    assert 0.74 < counts["v1"] / 1000 < 0.86


def test_sticky_keys_keep_a_caller_on_one_version(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes, None, make_version("v1"), make_version("v2"), make_version("v3"))
    rt.set_routing("chat", "round_robin")
    for key in ("u1", "u2", "u3", "u4"):
        assert len({rt.serve("chat", {}, key=key).version_id for _ in range(10)}) == 1
    assert len({rt.serve("chat", {}).version_id for _ in range(9)}) == 3


def test_set_routing_rejects_bad_input_naming_the_field(runtimes: Factory) -> None:
    rt = ready_runtime(runtimes)
    with pytest.raises(ValueError, match="^strategy: unknown value"):
        rt.set_routing("chat", "sideways")
    with pytest.raises(ValueError, match=r"^weights\[v1\]"):
        rt.set_routing("chat", "weighted", weights={"v1": -0.5})
    with pytest.raises(ValueError, match="^model_name"):
        rt.set_routing("", "round_robin")
    rt.set_routing("chat", None)  # back to newest


def test_metrics_count_latency_percentiles_tokens_and_cost(runtimes: Factory) -> None:
    v = make_version(parameters={"price_per_1k_input_tokens": 1.0, "price_per_1k_output_tokens": 2.0})
    rt = ready_runtime(runtimes, FakeInvoker(latency=0.002), v)
    for _ in range(20):
        assert rt.serve("chat", {}).success
    m = rt.get_metrics("v1")
    assert m is not None
    assert (m.total_requests, m.successful_requests, m.failed_requests) == (20, 20, 0)
    assert 0 < m.p50_latency_ms <= m.p95_latency_ms <= m.p99_latency_ms <= m.max_latency_ms
    assert m.tokens_processed == 100
    assert m.cost_usd == pytest.approx(20 * (3 / 1000 + 2 * 2 / 1000))
    assert m.status is ModelStatus.READY
    assert rt.get_metrics("nope") is None


def test_every_answer_reaches_the_metrics_sink(runtimes: Factory) -> None:
    sink = RecordingSink()
    rt = ready_runtime(runtimes, None, make_version(), metrics_sink=sink)
    for _ in range(5):
        rt.serve("chat", {})
    rt.stop()
    assert len([o for vid, o in sink.outcomes if vid == "v1"]) == 5


def test_intelligent_routing_shifts_traffic_to_the_better_version(runtimes: Factory) -> None:
    from actorserve.adapters import SimulatedInvoker

    rt = ready_runtime(
        runtimes,
        SimulatedInvoker(latency_ms=0.5, seed=11),  # type: ignore[arg-type]
        make_version("good", parameters={"error_rate": 0.02}),
        make_version("bad", parameters={"error_rate": 0.4}),
        seed=11,
    )
    rt.set_routing("chat", RoutingStrategy.INTELLIGENT, bandit={"latency_weight": 0.0})
    for _ in range(1500):
        rt.serve("chat", {"prompt": "x"})
    last = Counter(rt.serve("chat", {"prompt": "x"}).version_id for _ in range(300))
    assert last["good"] >= 240


def test_a_running_request_answered_at_its_deadline_is_counted_once(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    sink = RecordingSink()
    rt = ready_runtime(runtimes, invoker, make_version(), metrics_sink=sink)
    assert rt.serve("chat", {}, timeout_ms=30).error_code is ErrorCode.TIMEOUT
    gate.set()
    assert rt.serve("chat", {}).success  # runs after the first batch came back
    m = rt.get_metrics("v1")
    assert m is not None
    assert (m.total_requests, m.errors_by_code) == (2, {"timeout": 1})
    assert len(sink.outcomes) == 2


def test_a_running_request_the_caller_cancelled_is_counted_once(runtimes: Factory) -> None:
    import asyncio

    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = ready_runtime(runtimes, invoker)

    async def main() -> None:
        task = asyncio.create_task(rt.aserve("chat", {}))
        await asyncio.get_running_loop().run_in_executor(None, invoker.started.acquire, True, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    gate.set()
    assert rt.serve("chat", {}).success
    m = rt.get_metrics("v1")
    assert m is not None
    assert (m.total_requests, m.errors_by_code) == (2, {"cancelled": 1})
