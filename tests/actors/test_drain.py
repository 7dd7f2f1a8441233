from __future__ import annotations

import threading
from collections.abc import Callable

from actorserve.actors import ServingRuntime
from actorserve.domain import ErrorCode, ModelStatus
from tests.fakes import FakeInvoker, RecordingSink, make_version, status, submit_many

Factory = Callable[..., ServingRuntime]


def test_unload_answers_every_queued_and_in_flight_request(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    sink = RecordingSink()
    rt = runtimes(invoker, metrics_sink=sink)
    rt.register(make_version(replicas=2))
    assert rt.wait_ready("v1", 5)
    replies = submit_many(rt, 10)
    assert invoker.started.acquire(timeout=5)
    assert rt.unload("v1")
    assert sink.wait_for("v1", ModelStatus.DRAINING)
    gate.set()
    answers = [rt.await_reply(r, 5) for r in replies]
    assert all(a.success for a in answers)
    assert sink.wait_for("v1", ModelStatus.STOPPED)


def test_no_request_is_routed_to_a_version_once_unload_returned(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    rt.register(make_version("v1", number="1"))
    rt.register(make_version("v2", number="2"))
    assert rt.wait_ready("v1", 5)
    assert rt.wait_ready("v2", 5)
    assert rt.unload("v2")
    assert {rt.serve("chat", {}).version_id for _ in range(50)} == {"v1"}


def test_a_drain_that_times_out_answers_the_rest_unavailable(runtimes: Factory) -> None:
    invoker = FakeInvoker(gate=threading.Event())
    sink = RecordingSink()
    rt = runtimes(invoker, metrics_sink=sink)
    rt.register(make_version(drain_timeout_s=0.05))
    assert rt.wait_ready("v1", 5)
    replies = submit_many(rt, 3, timeout_ms=60_000)
    assert invoker.started.acquire(timeout=5)
    rt.unload("v1")
    answers = [rt.await_reply(r, 5) for r in replies]
    assert [a.error_code for a in answers] == [ErrorCode.UNAVAILABLE] * 3
    assert sink.wait_for("v1", ModelStatus.STOPPED)
    m = rt.get_metrics("v1")
    assert m is not None
    assert m.errors_by_code == {"unavailable": 3}  # final figures survive the actor


def test_unload_while_loading_stops_without_serving(runtimes: Factory) -> None:
    load_gate = threading.Event()
    sink = RecordingSink()
    rt = runtimes(FakeInvoker(load_gate=load_gate), metrics_sink=sink)
    v = make_version()
    rt.register(v)
    assert rt.unload("v1")
    assert sink.wait_for("v1", ModelStatus.STOPPED)
    assert rt.wait_ready("v1", 0.1) is False
    load_gate.set()
    assert status(v) is ModelStatus.STOPPED


def test_swapping_versions_loses_no_request(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(latency=0.001))
    rt.register(make_version("v1", number="1"))
    assert rt.wait_ready("v1", 5)
    results: list[bool] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            results.append(rt.serve("chat", {}).success)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    rt.register(make_version("v2", number="2"))
    assert rt.wait_ready("v2", 5)  # the new version loads before the old one drains
    assert rt.unload("v1")
    stop.set()
    for t in threads:
        t.join(10)
    assert results
    assert all(results)
