from __future__ import annotations

import logging

import pytest

from actorserve.actors import ServingRuntime
from actorserve.domain.health import ProbeTracker
from tests.fakes import FakeInvoker, eventually, make_version, submit_many


def versions_of(rt: ServingRuntime) -> dict[str, dict[str, object]]:
    return rt.health()["versions"]  # type: ignore[return-value]


def test_a_runtime_without_versions_is_live_but_not_ready() -> None:
    with ServingRuntime(FakeInvoker()) as rt:
        assert rt.health() == {"live": True, "ready": False, "versions": {}}


def test_an_optional_version_alone_does_not_make_the_runtime_ready() -> None:
    with ServingRuntime(FakeInvoker(load_fail_times=100)) as rt:
        rt.register(make_version("optional", "canary", required=False, load_retries=0))
        assert not rt.wait_ready("optional", 5)
        assert not rt.health()["ready"]  # nothing READY at all


def test_a_required_version_that_failed_makes_the_runtime_unready() -> None:
    from actorserve.actors.invoker_set import InvokerSet

    good, bad = FakeInvoker(), FakeInvoker(load_fail_times=100)
    with ServingRuntime(InvokerSet({"bad": bad}, default=good)) as rt:
        rt.register(make_version("main"))
        rt.register(make_version("opt", "side", framework="bad", required=False, load_retries=0))
        assert rt.wait_ready("main", 5)
        assert not rt.wait_ready("opt", 5)
        h = rt.health()
        assert h["ready"]
        assert versions_of(rt)["opt"]["required"] is False
        assert versions_of(rt)["opt"]["status"] == "failed"
        assert "load failure" in str(versions_of(rt)["opt"]["last_error"])
        rt.register(make_version("req", "side2", framework="bad", load_retries=0))
        assert not rt.wait_ready("req", 5)
        assert not rt.health()["ready"]
        rt.unload("req")  # unloaded on purpose: no longer counts
        assert rt.health()["ready"]


def test_probes_report_each_versions_replica_health() -> None:
    inv = FakeInvoker()
    with ServingRuntime(inv) as rt:
        rt.register(make_version("v1", replicas=2, health_check_period_s=0.02, health_check_threshold=1000))
        assert rt.wait_ready("v1", 5)
        assert versions_of(rt)["v1"]["healthy"] in (None, True)
        assert eventually(lambda: versions_of(rt)["v1"]["healthy"] is True)
        assert eventually(lambda: versions_of(rt)["v1"]["replicas_probed"] == 2)
        inv.healthy = False
        assert eventually(lambda: versions_of(rt)["v1"]["healthy"] is False)
        assert "health probe answered False" in str(versions_of(rt)["v1"]["probe_error"])
        assert rt.health()["ready"]  # probes report; READY is the lifecycle's word
        inv.healthy = True
        assert eventually(lambda: versions_of(rt)["v1"]["healthy"] is True)


def test_a_replica_failing_its_probes_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    inv = FakeInvoker()
    with caplog.at_level(logging.INFO), ServingRuntime(inv) as rt:
        rt.register(make_version("v1", health_check_period_s=0.02, health_check_threshold=2, restart_backoff_s=0.01))
        assert rt.wait_ready("v1", 5)
        inv.healthy = False
        assert eventually(lambda: inv.loads >= 2)
        inv.healthy = True
        assert eventually(lambda: versions_of(rt)["v1"]["healthy"] is True)
        assert rt.serve("chat", {}).success
    assert any("failed 2 health probes in a row" in r.getMessage() for r in caplog.records)


def test_probes_can_be_turned_off() -> None:
    inv = FakeInvoker()
    with ServingRuntime(inv) as rt:
        rt.register(make_version("v1", health_check_period_s=0))
        assert rt.wait_ready("v1", 5)
        assert rt.serve("chat", {}).success
        assert inv.probes == 0
        assert versions_of(rt)["v1"]["healthy"] is None


def test_probe_tracker_counts_consecutive_failures() -> None:
    t = ProbeTracker(threshold=3)
    assert not t.record(0, False, "down")
    assert not t.record(0, False, "down")
    assert not t.record(0, True)
    assert [t.record(0, False, "x") for _ in range(3)] == [False, False, True]
    t.record(1, True)
    s = t.summary()
    assert (s.healthy, s.probed, s.error) == (1, 2, "x")
    t.forget(0)
    assert t.summary().error is None


def test_lifecycle_and_rejections_are_logged_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    import threading

    gate = threading.Event()
    with caplog.at_level(logging.INFO), ServingRuntime(FakeInvoker(gate=gate)) as rt:
        rt.register(make_version("v1", max_queue=1, max_concurrency=1))
        assert rt.wait_ready("v1", 5)
        replies = submit_many(rt, 20)
        gate.set()
        responses = [rt.await_reply(r, 5) for r in replies]
        assert sum(not r.success for r in responses) >= 10
        ok_count = sum(r.success for r in responses)
    transitions = [r for r in caplog.records if "loading -> ready" in r.getMessage()]
    assert transitions
    assert (transitions[0].model, transitions[0].version) == ("chat", "v1")  # type: ignore[attr-defined]
    rejected = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert len(rejected) == 1  # one line per second under a storm, not one per request
    assert rejected[0].error_code == "overloaded"  # type: ignore[attr-defined]
    assert rejected[0].request_id  # type: ignore[attr-defined]
    assert ok_count >= 1
    per_request = [r for r in caplog.records if getattr(r, "request_id", None) and r.levelno < logging.WARNING]
    assert per_request == []  # no line per successful request


def test_a_replica_that_never_answers_its_probe_is_replaced() -> None:
    import threading

    release = threading.Event()

    class HangingProbe(FakeInvoker):
        def health(self, handle: object) -> bool:
            if self.loads == 1:  # the first instance hangs, as a wedged backend call would
                release.wait(10)
            return True

    inv = HangingProbe()
    try:
        with ServingRuntime(inv) as rt:
            rt.register(
                make_version(
                    "v1",
                    health_check_period_s=0.02,
                    health_check_timeout_s=0.05,
                    health_check_threshold=2,
                    restart_backoff_s=0.01,
                )
            )
            assert rt.wait_ready("v1", 5)
            assert eventually(lambda: inv.loads >= 2)
            assert eventually(lambda: versions_of(rt)["v1"]["healthy"] is True)
            assert rt.serve("chat", {}).success
            release.set()  # let the wedged thread finish so stop() can join it
    finally:
        release.set()


def test_probe_tracker_knows_when_a_probe_is_overdue() -> None:
    t = ProbeTracker(threshold=2)
    assert t.due(0, now=0.0, timeout_s=1.0) == "send"
    t.sent(0, 0.0)
    assert t.due(0, now=0.5, timeout_s=1.0) == "wait"
    assert t.due(0, now=1.0, timeout_s=1.0) == "overdue"
    t.answered(0)
    assert t.due(0, now=1.0, timeout_s=1.0) == "send"
