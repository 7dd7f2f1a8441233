"""VersionCore: every decision of one version, as plain methods that take `now` and return `Effects`.

The version actor is a thin shell around this: it turns messages and timer
ticks into calls here and carries out the effects (answers, batches, worker
starts and stops, timers, lifecycle events). Nothing here blocks, sleeps,
reads a clock or touches an actor, so the tests drive it tick by tick with
a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable

from actorserve.actors.keys import ReplicaKey, VersionKey
from actorserve.actors.messages import Work
from actorserve.actors.version.dispatch import Dispatcher
from actorserve.actors.version.effects import (
    DEADLINE,
    DRAIN,
    FLUSH,
    NOTHING,
    PROBE,
    Answer,
    Effects,
    Outbox,
    Transition,
    replica_timer,
)
from actorserve.actors.version.health import ReplicaProbes
from actorserve.actors.version.slots import ReplicaSlots
from actorserve.domain.admission import Admit, BatchQueue
from actorserve.domain.batching import AdaptiveBatcher, BatchCost
from actorserve.domain.config import ServingConfig
from actorserve.domain.enums import ErrorCode, ModelStatus
from actorserve.domain.lifecycle import LifecycleEvent, Phase, phase_of, transition
from actorserve.domain.metrics import Outcome

__all__ = ["VersionCore"]


def _reply_done(work: Work) -> bool:
    return work.reply.done


class VersionCore:
    """Queue, replica slots, admission, batching, deadlines, drain and lifecycle of one version generation.

    Args:
        key: the version generation.
        config: its serving policy.
        first: the event that starts this generation (RESTART after a crash), or None for a new version.
        answered: whether a request was already answered elsewhere (default: its reply is done).
    """

    def __init__(
        self,
        key: VersionKey,
        config: ServingConfig,
        *,
        first: LifecycleEvent | None = None,
        answered: Callable[[Work], bool] = _reply_done,
    ) -> None:
        self.key = key
        self.config = config
        self._first = first
        self._answered = answered
        self.phase: Phase = phase_of(ModelStatus.FAILED if first is LifecycleEvent.RESTART else ModelStatus.LOADING)
        self.slots = ReplicaSlots(key, config)
        self.queue: BatchQueue[Work] = BatchQueue(
            max_queue=config.max_queue,
            max_batch_size=config.max_batch_size,
            batch_wait_s=config.batch_wait_s,
            max_concurrency=config.effective_max_concurrency,
            answered=answered,
        )
        self.probes = ReplicaProbes(config.health_check_threshold)
        self.finished = False
        self._dispatcher = Dispatcher(self.queue, self.slots, config.max_batch_size, AdaptiveBatcher.of(config))
        self._unbatched = self._dispatcher.unbatched
        self._cap = config.effective_max_concurrency
        self._deadline_at = float("inf")
        self._answered_running: set[str] = set()
        """Ids of requests we answered at their deadline while a worker held them (counted already)."""

    # --- reading -------------------------------------------------------------

    @property
    def status(self) -> ModelStatus:
        """The current status."""
        return self.phase.status

    @property
    def load(self) -> int:
        """Requests held: queued plus at workers."""
        return self.queue.in_flight + len(self.queue)

    @property
    def batch_cost(self) -> BatchCost | None:
        """The backend's fitted batch cost (`batch_wait_ms = "auto"`, once measured)."""
        return self._dispatcher.batch_cost

    # --- lifecycle -----------------------------------------------------------

    def start(self, now: float) -> Effects:
        """The generation begins: apply the first event and start every replica's worker."""
        out = Outbox()
        if self._first is not None:
            self._apply(out, now, self._first)
        out.start.extend(self.slots.start(i) for i in range(len(self.slots)))
        return out.freeze()

    def loaded(self, now: float, replica: ReplicaKey) -> Effects:
        """A replica's worker loaded its model."""
        if self.finished or not self.slots.current(replica):
            return NOTHING
        out = Outbox()
        self.slots.loaded(replica.index)
        if self.phase.status is ModelStatus.LOADING and (
            not self.config.wait_for_all_replicas or self.slots.loaded_count == len(self.slots)
        ):
            self._apply(out, now, LifecycleEvent.LOADED)
        self._dispatch(out, now)
        self._maybe_finish_drain(out, now)
        return out.freeze()

    def load_failed(self, now: float, replica: ReplicaKey, error: str) -> Effects:
        """A replica's worker failed to load (it stopped itself)."""
        if self.finished or not self.slots.current(replica):
            return NOTHING
        out = Outbox()
        index = replica.index
        attempts = self.slots.load_failed(index)
        if self.phase.status is ModelStatus.DRAINING:
            self._maybe_finish_drain(out, now)
        elif attempts <= self.config.load_retries:
            delay = self.config.load_backoff_s * (1 << (attempts - 1))
            out.timers.append((replica_timer(index), now + delay))
        else:
            self.slots.give_up(index)
            if self.phase.status is ModelStatus.LOADING and self.slots.hopeless(
                need_all=self.config.wait_for_all_replicas
            ):
                self._apply(out, now, LifecycleEvent.LOAD_FAILED, error)
                self._finish(out, now)
        return out.freeze()

    def worker_crashed(self, now: float, replica: ReplicaKey, error: str) -> Effects:
        """A replica's worker actor failed unexpectedly."""
        if self.finished or not self.slots.current(replica):
            return NOTHING
        out = Outbox()
        self._replace(out, now, replica.index, error, "Worker crashed while running the request", retire=False)
        return out.freeze()

    def drain(self, now: float) -> Effects:
        """Stop taking traffic; finish what is held within `drain_timeout_s`, then stop."""
        status = self.phase.status
        if self.finished or not (self.phase.accepting or status is ModelStatus.LOADING):
            return NOTHING
        out = Outbox()
        self._apply(out, now, LifecycleEvent.DRAIN)
        out.timers.append((DRAIN, now + self.config.drain_timeout_s))
        self._dispatch(out, now)
        self._maybe_finish_drain(out, now)
        return out.freeze()

    def crashed(self) -> Effects:
        """The actor itself failed: answer everything held UNAVAILABLE and forget the workers."""
        out = Outbox()
        self._answer_all(out, ErrorCode.UNAVAILABLE, "Version actor crashed")
        out.stop.extend(self.slots.stop_all())
        self.finished = True
        return out.freeze()

    # --- requests ------------------------------------------------------------

    def infer(self, now: float, work: Work) -> Effects:  # noqa: PLR0911 - one return per way a request goes
        """Admit one request: hand it to a free worker, queue it, or refuse it."""
        phase = self.phase
        if not phase.accepting or self.finished:
            status = phase.status
            if status is ModelStatus.LOADING or status is ModelStatus.FAILED:
                return Effects(answers=(Answer((work,), ErrorCode.NOT_READY, "Model not ready", True, True),))
            return Effects(answers=(Answer((work,), ErrorCode.UNAVAILABLE, "Model is draining", True, True),))
        timers: tuple[tuple[str, float | None], ...] = ()
        if work.deadline < self._deadline_at:
            self._deadline_at = work.deadline
            timers = ((DEADLINE, work.deadline),)
        queue, slots = self.queue, self.slots
        if self._unbatched and not queue.items and queue.in_flight < self._cap and slots.idle and now < work.deadline:
            # the common case: a worker is free and nobody waits, so skip the queue
            queue.in_flight += 1
            send = ((slots.assign([work]), (work,)),)
            return Effects(send=send, timers=timers) if timers else Effects.sending(send)
        if (error := self._dispatcher.refusal(now, work)) is not None:
            return Effects(answers=(Answer((work,), ErrorCode.TIMEOUT, error, True, True),), timers=timers)
        admitted = queue.admit(work, now)
        if admitted is Admit.FULL:
            error = f"Queue full ({self.config.max_queue} waiting)"
            return Effects(answers=(Answer((work,), ErrorCode.OVERLOADED, error, True, True),), timers=timers)
        if admitted is Admit.EXPIRED:
            error = "Deadline passed before the request was admitted"
            return Effects(answers=(Answer((work,), ErrorCode.TIMEOUT, error, True, True),), timers=timers)
        if self._unbatched:
            return self._dispatcher.next_unbatched(now, timers)
        out = Outbox()
        out.timers.extend(timers)
        self._dispatch(out, now)
        return out.freeze()

    def done(
        self, now: float, replica: ReplicaKey, outcomes: tuple[Outcome, ...], *, ran: int = 0, batch_s: float = 0.0
    ) -> Effects:
        """A worker finished its oldest batch; `outcomes` are the answers it gave, `ran` requests took `batch_s`."""
        if self.finished:
            return NOTHING
        if ran:
            self._dispatcher.measured(ran, batch_s)
        batch = self.slots.release(replica)
        queue = self.queue
        queue.finished(len(batch))
        if len(outcomes) >= len(batch) and self.phase.accepting:
            # the common cases: the worker answered its whole batch, and nobody waits or the next go out
            if self._answered_running:  # the worker answered first after all: forget we tried
                self._answered_running.difference_update(w.request.request_id for w in batch)
            if not queue.items:
                return NOTHING
            if self._unbatched:
                return self._dispatcher.next_unbatched(now)
        out = Outbox()
        if len(outcomes) < len(batch):
            self._count_unanswered_by_worker(out, batch, outcomes)
        elif self._answered_running:  # the worker answered first after all: forget we tried
            self._answered_running.difference_update(w.request.request_id for w in batch)
        self._dispatch(out, now)
        self._maybe_finish_drain(out, now)
        if not (out.send or out.counted or out.answers or out.timers or out.transitions or out.finished):
            return NOTHING  # the common case under load with nothing queued
        return out.freeze()

    def unreachable(self, now: float, index: int) -> Effects:
        """The shell could not hand a batch to slot `index`: its worker is gone, as if it crashed."""
        out = Outbox()
        self._replace(out, now, index, "worker is gone", "Worker is gone", retire=False)
        return out.freeze()

    # --- timers --------------------------------------------------------------

    def timer(self, now: float, name: str) -> Effects:
        """A timer slot fired."""
        if self.finished:
            return NOTHING
        out = Outbox()
        if name == DEADLINE:
            self._expire(out, now)
        elif name == FLUSH:
            self._dispatcher.flushed()
            self._dispatch(out, now)
        elif name == DRAIN:
            if self.phase.status is ModelStatus.DRAINING:
                self._answer_all(out, ErrorCode.UNAVAILABLE, "Model unloaded before the request finished")
                self._finish(out, now)
        elif name == PROBE:
            self._probe_round(out, now)
        elif name.startswith("replica-"):
            self._restart(out, int(name.removeprefix("replica-")))
        return out.freeze()

    def _expire(self, out: Outbox, now: float) -> None:
        self._deadline_at = float("inf")
        expired, answered = self.queue.expire(now)
        out.counted.extend(answered)
        out.fail(expired, ErrorCode.TIMEOUT, "Deadline passed while queued")
        answered_ids = self._answered_running
        running = [
            w for w in self.slots.running() if not self._answered(w) and w.request.request_id not in answered_ids
        ]
        late = [w for w in running if now >= w.deadline]
        out.fail(late, ErrorCode.TIMEOUT, "Deadline passed while running")
        answered_ids.update(w.request.request_id for w in late)
        pending = [w.deadline for w in self.queue if not self._answered(w)]
        pending.extend(w.deadline for w in running if now < w.deadline)
        if pending:
            self._deadline_at = min(pending)
            out.timers.append((DEADLINE, self._deadline_at))
        self._maybe_finish_drain(out, now)

    def _restart(self, out: Outbox, index: int) -> None:
        status = self.phase.status
        if (self.phase.accepting or status is ModelStatus.LOADING) and not self.slots.has_worker(index):
            self.probes.forget(index)
            out.start.append(self.slots.start(index))

    # --- health probes -------------------------------------------------------

    def _probe_round(self, out: Outbox, now: float) -> None:
        if not self.phase.accepting:
            return
        timeout = self.config.health_check_timeout_s
        for index in self.slots.loaded_indices():
            due = self.probes.due(index, now, timeout)
            if due == "send":
                self.probes.sent(index, now)
                key = self.slots.key_of(index)
                if key is not None:
                    out.probe.append(key)
            elif due == "overdue":
                self._probe_result(out, now, index, False, f"no answer to its health probe within {timeout:g}s")
        if self.phase.accepting:  # a replaced replica may have failed the version
            out.timers.append((PROBE, now + self.config.health_check_period_s))

    def health_checked(self, now: float, replica: ReplicaKey, healthy: bool, error: str | None) -> Effects:
        """A replica answered its health probe."""
        if self.finished or not self.slots.current(replica):
            return NOTHING
        out = Outbox()
        self.probes.answered(replica.index)
        self._probe_result(out, now, replica.index, healthy, error)
        return out.freeze()

    def _probe_result(self, out: Outbox, now: float, index: int, healthy: bool, error: str | None) -> None:
        replace, report = self.probes.record(index, healthy, error)
        if not healthy:
            out.warnings.append(f"replica {index} failed its health probe: {error}")
        if report is not None:
            out.report = report
        if replace and self.phase.accepting:
            reason = f"failed {self.config.health_check_threshold} health probes in a row: {error}"
            out.warnings.append(f"replica {index} {reason}; replacing it")
            self.probes.forget(index)
            self._replace(out, now, index, reason, "Replica failed its health probes", retire=True)

    # --- internals -----------------------------------------------------------

    def _apply(self, out: Outbox, now: float, event: LifecycleEvent, error: str | None = None) -> None:
        old = self.phase.status
        self.phase = transition(old, event)
        out.transitions.append(Transition(old, self.phase.status, event, error))
        if self.phase.status is ModelStatus.READY and self.config.health_check_period_s > 0:
            out.timers.append((PROBE, now + self.config.health_check_period_s))

    def _replace(self, out: Outbox, now: float, index: int, error: str, answer: str, *, retire: bool) -> None:
        """A replica is gone (crashed, or retired for failing probes): answer what it held, then restart or fail."""
        key, held = self.slots.gone(index)
        if retire and key is not None:
            out.stop.append(key)
        self.queue.finished(len(held))
        counted = self._answered_running
        fresh = [w for w in held if w.request.request_id not in counted]
        counted.difference_update(w.request.request_id for w in held)
        out.fail(fresh, ErrorCode.UNAVAILABLE, answer, count_answered=True)
        if self.phase.status is ModelStatus.DRAINING:
            self._maybe_finish_drain(out, now)
            return
        delay = self.slots.record_crash(index, now)
        if delay is None:
            window = self.config.restart_window_s
            error = f"worker crashed {self.slots.crash_count(index)} times in {window:g}s: {error}"
            self._answer_all(out, ErrorCode.UNAVAILABLE, "Version failed")
            self._apply(out, now, LifecycleEvent.CRASHED, error)
            self._finish(out, now)
            return
        out.warnings.append(f"restarting replica {index} in {delay:.3f}s")
        out.timers.append((replica_timer(index), now + delay))

    def _answer_all(self, out: Outbox, code: ErrorCode, error: str) -> None:
        out.fail(self.queue.clear(), code, error, count_answered=True)
        out.fail(list(self.slots.running()), code, error)

    def _finish(self, out: Outbox, now: float) -> None:
        """End the generation: STOPPED after a drain, or staying FAILED."""
        if self.finished:
            return
        self.finished = True
        out.stop.extend(self.slots.stop_all())
        if self.phase.status is ModelStatus.DRAINING:
            self._apply(out, now, LifecycleEvent.DRAINED)
        out.finished = True

    def _maybe_finish_drain(self, out: Outbox, now: float) -> None:
        # A batch whose requests were all answered already (deadline passed) holds
        # nobody up: its worker stops once the invoker returns.
        if self.phase.status is not ModelStatus.DRAINING or self.queue.items or self.finished:
            return
        answered_now = {w.request.request_id for a in out.answers for w in a.works}
        if all(self._answered(w) or w.request.request_id in answered_now for w in self.slots.running()):
            self._finish(out, now)

    def _count_unanswered_by_worker(self, out: Outbox, batch: list[Work], outcomes: tuple[Outcome, ...]) -> None:
        """Requests of a finished batch the worker did not answer: count whoever did, once."""
        by_worker = {o.request_id for o in outcomes}
        for work in batch:
            rid = work.request.request_id
            if rid in by_worker:
                continue
            if rid in self._answered_running:
                self._answered_running.discard(rid)  # we answered it (and counted it)
            elif self._answered(work):
                out.counted.append(work)  # the caller or an experiment answered it first

    def _dispatch(self, out: Outbox, now: float) -> None:
        if self.phase.dispatching:
            self._dispatcher.dispatch(out, now, draining=self.phase.status is ModelStatus.DRAINING)
