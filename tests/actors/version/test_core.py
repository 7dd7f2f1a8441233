"""VersionCore tick by tick: a fake clock, no threads, no actors."""

from __future__ import annotations

import itertools
from typing import Any

from actorserve.actors.keys import ReplicaKey, VersionKey
from actorserve.actors.messages import Work
from actorserve.actors.reply import SyncReply
from actorserve.actors.version.core import VersionCore
from actorserve.actors.version.effects import DEADLINE, DRAIN, FLUSH, PROBE, Effects, replica_timer
from actorserve.domain import ErrorCode, ModelRequest, ModelResponse, ModelStatus, ServingConfig
from actorserve.domain.lifecycle import LifecycleEvent
from actorserve.domain.metrics import Outcome
from tests.fakes import FakeClock

KEY = VersionKey("v1", 1)
_ids = itertools.count()


def work(clock: FakeClock, timeout_s: float = 1.0) -> Work:
    rid = f"r{next(_ids)}"
    reply: SyncReply[ModelResponse] = SyncReply()
    now = clock.monotonic()
    request = ModelRequest(request_id=rid, model_id="chat", version_id="v1", input_data={})
    return Work(request, reply, now, now + timeout_s, now)


def answer_by_caller(w: Work, code: ErrorCode = ErrorCode.CANCELLED) -> None:
    w.reply.set(
        ModelResponse(
            request_id=w.request.request_id,
            model_id="chat",
            version_id="v1",
            output_data=None,
            latency_ms=1.0,
            success=False,
            error="gone",
            error_code=code,
        )
    )


def ready_core(clock: FakeClock, **serving: Any) -> tuple[VersionCore, list[ReplicaKey]]:
    serving.setdefault("health_check_period_s", 0.0)
    core = VersionCore(KEY, ServingConfig(**serving))
    keys = list(core.start(clock.monotonic()).start)
    for key in keys:
        core.loaded(clock.monotonic(), key)
    assert core.status is ModelStatus.READY
    return core, keys


def answered(effects: Effects) -> dict[str, tuple[ErrorCode, str]]:
    return {w.request.request_id: (a.code, a.error) for a in effects.answers for w in a.works}


def ok(w: Work) -> Outcome:
    return Outcome(w.request.request_id, True, 1.0)


# --- loading -------------------------------------------------------------------------------------------


def test_a_new_version_starts_a_worker_per_replica_and_waits_loading() -> None:
    clock = FakeClock()
    core = VersionCore(KEY, ServingConfig(replicas=2))
    effects = core.start(clock.monotonic())
    assert [str(k) for k in effects.start] == ["v1@1/replica-0@1", "v1@1/replica-1@1"]
    assert effects.transitions == ()
    assert core.status is ModelStatus.LOADING


def test_requests_while_loading_are_refused_not_ready() -> None:
    clock = FakeClock()
    core = VersionCore(KEY, ServingConfig())
    core.start(clock.monotonic())
    w = work(clock)
    effects = core.infer(clock.monotonic(), w)
    assert answered(effects) == {w.request.request_id: (ErrorCode.NOT_READY, "Model not ready")}
    assert effects.answers[0].rejected and effects.answers[0].count_answered


def test_the_first_loaded_replica_makes_it_ready_and_arms_the_probe() -> None:
    clock = FakeClock()
    core = VersionCore(KEY, ServingConfig(replicas=2, health_check_period_s=5.0))
    keys = core.start(clock.monotonic()).start
    effects = core.loaded(clock.monotonic(), keys[1])
    assert [(t.old, t.new) for t in effects.transitions] == [(ModelStatus.LOADING, ModelStatus.READY)]
    assert (PROBE, clock.monotonic() + 5.0) in effects.timers


def test_wait_for_all_replicas_waits_for_the_last_one() -> None:
    clock = FakeClock()
    core = VersionCore(KEY, ServingConfig(replicas=2, wait_for_all_replicas=True))
    keys = core.start(clock.monotonic()).start
    assert core.loaded(clock.monotonic(), keys[0]).transitions == ()
    assert core.loaded(clock.monotonic(), keys[1]).transitions[0].new is ModelStatus.READY


def test_a_failed_load_is_retried_with_backoff_then_fails_the_version() -> None:
    clock = FakeClock()
    core = VersionCore(KEY, ServingConfig(load_retries=1, load_backoff_s=0.5))
    (key,) = core.start(clock.monotonic()).start
    effects = core.load_failed(clock.monotonic(), key, "no file")
    assert effects.timers == ((replica_timer(0), clock.monotonic() + 0.5),)
    clock.advance(0.5)
    (again,) = core.timer(clock.monotonic(), replica_timer(0)).start
    assert again.generation == 2
    final = core.load_failed(clock.monotonic(), again, "no file")
    assert [(t.new, t.error) for t in final.transitions] == [(ModelStatus.FAILED, "no file")]
    assert final.finished


def test_a_restarted_generation_begins_with_its_restart_event() -> None:
    clock = FakeClock()
    core = VersionCore(VersionKey("v1", 2), ServingConfig(), first=LifecycleEvent.RESTART)
    effects = core.start(clock.monotonic())
    assert [(t.old, t.new, t.event) for t in effects.transitions] == [
        (ModelStatus.FAILED, ModelStatus.LOADING, LifecycleEvent.RESTART)
    ]


def test_events_from_a_replaced_worker_are_ignored() -> None:
    clock = FakeClock()
    core, (old,) = ready_core(clock, restart_backoff_s=0.1)
    core.worker_crashed(clock.monotonic(), old, "boom")
    clock.advance(0.1)
    (new,) = core.timer(clock.monotonic(), replica_timer(0)).start
    assert new != old
    assert core.loaded(clock.monotonic(), old) == Effects()
    assert core.worker_crashed(clock.monotonic(), old, "again") == Effects()


# --- admission and dispatch ----------------------------------------------------------------------------


def test_a_request_goes_straight_to_a_free_worker_and_arms_its_deadline() -> None:
    clock = FakeClock()
    core, _ = ready_core(clock)
    w = work(clock, timeout_s=2.0)
    effects = core.infer(clock.monotonic(), w)
    assert effects.send == ((0, (w,)),)
    assert effects.timers == ((DEADLINE, w.deadline),)
    assert core.queue.in_flight == 1


def test_a_busy_worker_takes_one_more_into_its_inbox_then_requests_queue() -> None:
    clock = FakeClock()
    core, _ = ready_core(clock, pipeline_depth=2)
    first, second, third = work(clock), work(clock), work(clock)
    assert core.infer(clock.monotonic(), first).send
    assert core.infer(clock.monotonic(), second).send == ((0, (second,)),)
    assert core.infer(clock.monotonic(), third).send == ()
    assert len(core.queue) == 1


def test_a_full_queue_is_overloaded_and_an_expired_request_a_timeout() -> None:
    clock = FakeClock()
    core, _ = ready_core(clock, max_queue=1, pipeline_depth=1)
    core.infer(clock.monotonic(), work(clock))
    core.infer(clock.monotonic(), work(clock))  # queued
    full = work(clock)
    assert answered(core.infer(clock.monotonic(), full))[full.request.request_id][0] is ErrorCode.OVERLOADED
    late = work(clock, timeout_s=0.0)
    core2, _ = ready_core(clock, pipeline_depth=1, max_queue=4)
    core2.infer(clock.monotonic(), work(clock))
    assert answered(core2.infer(clock.monotonic(), late))[late.request.request_id][0] is ErrorCode.TIMEOUT


def test_a_queued_request_the_caller_answered_is_counted_not_run() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock, pipeline_depth=1)
    running, queued = work(clock), work(clock)
    core.infer(clock.monotonic(), running)
    core.infer(clock.monotonic(), queued)
    answer_by_caller(queued)
    effects = core.done(clock.monotonic(), key, (ok(running),))
    assert effects.counted == (queued,)
    assert effects.send == ()


# --- deadlines -----------------------------------------------------------------------------------------


def test_at_its_deadline_a_queued_request_is_answered_timeout_and_never_started() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock, pipeline_depth=1)
    running = work(clock, timeout_s=5.0)
    queued = work(clock, timeout_s=1.0)
    core.infer(clock.monotonic(), running)
    core.infer(clock.monotonic(), queued)
    clock.advance(1.0)
    effects = core.timer(clock.monotonic(), DEADLINE)
    assert answered(effects) == {queued.request.request_id: (ErrorCode.TIMEOUT, "Deadline passed while queued")}
    assert effects.timers == ((DEADLINE, running.deadline),)
    assert core.done(clock.monotonic(), key, (ok(running),)).send == ()


def test_a_running_request_past_its_deadline_is_answered_once() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock)
    w = work(clock, timeout_s=1.0)
    core.infer(clock.monotonic(), w)
    clock.advance(1.0)
    effects = core.timer(clock.monotonic(), DEADLINE)
    assert answered(effects) == {w.request.request_id: (ErrorCode.TIMEOUT, "Deadline passed while running")}
    answer_by_caller(w, ErrorCode.TIMEOUT)  # the shell carried it out
    done = core.done(clock.monotonic(), key, ())  # the worker found it answered
    assert done.counted == ()  # counted once, by the version's own answer


# --- batching ------------------------------------------------------------------------------------------


def test_a_partial_batch_waits_for_batch_wait_then_goes() -> None:
    clock = FakeClock()
    core, _ = ready_core(clock, max_batch_size=4, batch_wait_ms=10.0)
    a = work(clock)
    effects = core.infer(clock.monotonic(), a)
    assert effects.send == ()
    assert (FLUSH, clock.monotonic() + 0.01) in effects.timers
    clock.advance(0.004)
    b = work(clock)
    assert core.infer(clock.monotonic(), b).send == ()
    clock.advance(0.006)
    assert core.timer(clock.monotonic(), FLUSH).send == ((0, (a, b)),)


def test_a_full_batch_goes_at_once() -> None:
    clock = FakeClock()
    core, _ = ready_core(clock, max_batch_size=3, batch_wait_ms=50.0)
    batch = [work(clock) for _ in range(3)]
    sends = [core.infer(clock.monotonic(), w).send for w in batch]
    assert sends[:2] == [(), ()]
    assert sends[2] == ((0, tuple(batch)),)


# --- drain ---------------------------------------------------------------------------------------------


def test_drain_finishes_when_the_last_held_request_is_done() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock, drain_timeout_s=30.0)
    w = work(clock)
    core.infer(clock.monotonic(), w)
    effects = core.drain(clock.monotonic())
    assert [t.new for t in effects.transitions] == [ModelStatus.DRAINING]
    assert (DRAIN, clock.monotonic() + 30.0) in effects.timers
    refused = work(clock)
    assert answered(core.infer(clock.monotonic(), refused))[refused.request.request_id] == (
        ErrorCode.UNAVAILABLE,
        "Model is draining",
    )
    w.reply.set(
        ModelResponse(request_id=w.request.request_id, model_id="chat", version_id="v1", output_data=1, latency_ms=1.0)
    )
    final = core.done(clock.monotonic(), key, (ok(w),))
    assert [t.new for t in final.transitions] == [ModelStatus.STOPPED]
    assert final.finished
    assert final.stop == (key,)


def test_a_drain_that_times_out_answers_the_rest_unavailable() -> None:
    clock = FakeClock()
    core, _ = ready_core(clock, drain_timeout_s=2.0, pipeline_depth=1)
    running, queued = work(clock, 10.0), work(clock, 10.0)
    core.infer(clock.monotonic(), running)
    core.infer(clock.monotonic(), queued)
    core.drain(clock.monotonic())
    clock.advance(2.0)
    effects = core.timer(clock.monotonic(), DRAIN)
    reason = (ErrorCode.UNAVAILABLE, "Model unloaded before the request finished")
    assert answered(effects) == {running.request.request_id: reason, queued.request.request_id: reason}
    assert effects.finished


def test_draining_a_loading_version_stops_it_once_nothing_is_held() -> None:
    clock = FakeClock()
    core = VersionCore(KEY, ServingConfig())
    core.start(clock.monotonic())
    effects = core.drain(clock.monotonic())
    assert [t.new for t in effects.transitions] == [ModelStatus.DRAINING, ModelStatus.STOPPED]
    assert effects.finished


# --- crashes and probes --------------------------------------------------------------------------------


def test_a_crashed_worker_answers_what_it_held_and_restarts_with_backoff() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock, restart_backoff_s=0.2)
    w = work(clock)
    core.infer(clock.monotonic(), w)
    effects = core.worker_crashed(clock.monotonic(), key, "segfault")
    assert answered(effects) == {
        w.request.request_id: (ErrorCode.UNAVAILABLE, "Worker crashed while running the request")
    }
    assert effects.timers == ((replica_timer(0), clock.monotonic() + 0.2),)
    assert core.queue.in_flight == 0


def test_a_worker_crashing_past_its_budget_fails_the_version() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock, max_restarts=0)
    queued = work(clock)
    effects = core.worker_crashed(clock.monotonic(), key, "segfault")
    assert [(t.new, t.event) for t in effects.transitions] == [(ModelStatus.FAILED, LifecycleEvent.CRASHED)]
    assert effects.finished
    assert core.infer(clock.monotonic(), queued).answers[0].code is ErrorCode.NOT_READY  # FAILED for good


def test_a_replica_failing_its_probes_is_replaced() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock, health_check_threshold=2, restart_backoff_s=0.1)
    probes = core.timer(clock.monotonic(), PROBE)
    assert probes.probe == (key,)
    first = core.health_checked(clock.monotonic(), key, False, "sick")
    assert first.report is not None
    assert (first.report.healthy, first.report.probed) == (0, 1)
    assert first.stop == ()
    core.timer(clock.monotonic(), PROBE)
    second = core.health_checked(clock.monotonic(), key, False, "sick")
    assert second.stop == (key,)
    assert second.timers == ((replica_timer(0), clock.monotonic() + 0.1),)
    assert any("replacing it" in line for line in second.warnings)


def test_an_unanswered_probe_counts_as_failed_once_overdue() -> None:
    clock = FakeClock()
    core, (key,) = ready_core(clock, health_check_threshold=1, health_check_timeout_s=3.0)
    core.timer(clock.monotonic(), PROBE)
    clock.advance(3.0)
    effects = core.timer(clock.monotonic(), PROBE)
    assert effects.stop == (key,)


def test_a_worker_that_cannot_be_reached_is_treated_as_crashed() -> None:
    clock = FakeClock()
    core, _ = ready_core(clock)
    w = work(clock)
    index = core.infer(clock.monotonic(), w).send[0][0]
    effects = core.unreachable(clock.monotonic(), index)
    assert answered(effects) == {w.request.request_id: (ErrorCode.UNAVAILABLE, "Worker is gone")}
    assert effects.timers[0][0] == replica_timer(0)


def test_the_hot_paths_shortcut_builds_the_same_effects_as_the_keywords() -> None:
    clock = FakeClock()
    send = ((0, (work(clock),)),)
    assert Effects.sending(send) == Effects(send=send, sends_only=True)
