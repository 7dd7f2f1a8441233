from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pykka
import pytest

from actorserve.actors import ServingRuntime
from actorserve.actors.version.worker import WorkerActor
from actorserve.domain import ErrorCode, ModelStatus
from tests.fakes import FakeInvoker, RecordingSink, make_version, status, submit_many

Factory = Callable[..., ServingRuntime]


class Crash:
    """A message no actor handles: an unexpected failure, as a bug would cause."""


def version_ref(rt: ServingRuntime, vid: str) -> pykka.ActorRef[Any]:
    found = rt._control.lookup(vid)
    assert found is not None and found[1] is not None
    return found[1]


def test_a_crashed_version_is_restarted_and_serves_again(runtimes: Factory) -> None:
    sink = RecordingSink()
    rt = runtimes(FakeInvoker(), metrics_sink=sink)
    v = make_version(max_restarts=2, restart_backoff_s=0.01)
    rt.register(v)
    assert rt.wait_ready("v1", 5)
    old = version_ref(rt, "v1")
    old.tell(Crash())
    assert sink.wait_for("v1", ModelStatus.FAILED)
    assert rt.wait_ready("v1", 5)
    assert version_ref(rt, "v1") is not old
    assert rt.serve("chat", {}).success
    assert rt.health()["versions"]["v1"]["generation"] == 2  # type: ignore[index]
    assert sink.history("v1") == [
        ModelStatus.LOADING,
        ModelStatus.READY,
        ModelStatus.FAILED,
        ModelStatus.LOADING,
        ModelStatus.READY,
    ]


def test_a_version_crashing_past_max_restarts_stays_failed(runtimes: Factory) -> None:
    sink = RecordingSink()
    rt = runtimes(FakeInvoker(), metrics_sink=sink)
    v = make_version(max_restarts=1, restart_backoff_s=0.01)
    rt.register(v)
    assert rt.wait_ready("v1", 5)
    version_ref(rt, "v1").tell(Crash())
    assert sink.wait_for("v1", ModelStatus.FAILED)
    assert rt.wait_ready("v1", 5)
    version_ref(rt, "v1").tell(Crash())
    assert sink.wait_for("v1", ModelStatus.FAILED, times=2)
    assert rt.wait_ready("v1", 1) is False
    assert status(v) is ModelStatus.FAILED
    assert "UnexpectedMessageError" in (v.last_error or "")
    assert rt.serve("chat", {}).error == "Model not ready"
    assert rt.unload("v1") is True
    assert status(v) is ModelStatus.STOPPED


def test_requests_held_by_a_crashed_version_are_answered_unavailable(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = runtimes(invoker)
    rt.register(make_version(restart_backoff_s=0.01))
    assert rt.wait_ready("v1", 5)
    replies = submit_many(rt, 5, timeout_ms=60_000)
    assert invoker.started.acquire(timeout=5)
    version_ref(rt, "v1").tell(Crash())
    answers = [rt.await_reply(r, 5) for r in replies]
    assert [a.error_code for a in answers] == [ErrorCode.UNAVAILABLE] * 5
    gate.set()


def test_a_crashed_worker_is_restarted_and_its_batch_answered_unavailable(
    runtimes: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = WorkerActor._answer

    def buggy(self: WorkerActor, work: object, *args: object) -> object:
        if work.request.input_data.get("crash"):  # type: ignore[attr-defined]
            msg = "worker bug"
            raise RuntimeError(msg)
        return original(self, work, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(WorkerActor, "_answer", buggy)
    invoker = FakeInvoker()
    rt = runtimes(invoker)
    rt.register(make_version(max_restarts=3, restart_backoff_s=0.01))
    assert rt.wait_ready("v1", 5)
    r = rt.serve("chat", {"crash": True})
    assert (r.success, r.error_code) == (False, ErrorCode.UNAVAILABLE)
    assert rt.serve("chat", {}, timeout_ms=5000).success  # waits in the queue for the restarted worker
    assert invoker.loads == 2


def test_a_worker_crashing_past_max_restarts_fails_the_version(
    runtimes: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy(self: WorkerActor, *args: object) -> object:
        msg = "worker bug"
        raise RuntimeError(msg)

    monkeypatch.setattr(WorkerActor, "_answer", buggy)
    sink = RecordingSink()
    rt = runtimes(FakeInvoker(), metrics_sink=sink)
    v = make_version(max_restarts=1, restart_backoff_s=0.01)
    rt.register(v)
    assert rt.wait_ready("v1", 5)
    assert rt.serve("chat", {}).error_code is ErrorCode.UNAVAILABLE
    assert rt.serve("chat", {}, timeout_ms=5000).error_code is ErrorCode.UNAVAILABLE
    assert sink.wait_for("v1", ModelStatus.FAILED)
    assert "worker crashed 2 times" in (v.last_error or "")
