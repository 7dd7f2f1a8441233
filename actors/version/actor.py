"""VersionActor: one model version's lifecycle, admission, queue, batching, deadlines, metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from actorserve.actors.base import ServingActor
from actorserve.actors.ledger import VersionLedger
from actorserve.actors.messages import (
    CheckHealth,
    Done,
    Drain,
    DrainTimeout,
    Ended,
    ExpireDeadlines,
    FlushBatch,
    GetMetrics,
    HealthChecked,
    HealthReport,
    Infer,
    Loaded,
    LoadFailed,
    ProbeHealth,
    RestartWorker,
    RetryLoad,
    RunBatch,
    StatusChanged,
    UnexpectedMessageError,
    VersionAdded,
    VersionCrashed,
    Work,
    WorkerCrashed,
    safe_tell,
)
from actorserve.actors.replicas import ReplicaPool, WorkerFactory
from actorserve.actors.scheduler import Scheduler, TimerHandle
from actorserve.actors.status import ShownStatus
from actorserve.actors.tracking import ThreadTracker
from actorserve.actors.worker import describe_exception
from actorserve.domain.admission import Admit, BatchQueue
from actorserve.domain.entities import ModelMetrics, ModelVersion
from actorserve.domain.enums import ErrorCode, ModelStatus
from actorserve.domain.health import ProbeSummary, ProbeTracker
from actorserve.domain.lifecycle import ROUTABLE, LifecycleEvent, transition
from actorserve.domain.metrics import Outcome
from actorserve.domain.ports import Clock, CostCalculator, MetricsSink, ModelInvoker

if TYPE_CHECKING:
    import pykka

__all__ = ["VersionActor", "VersionDeps"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VersionDeps:
    """What every version actor of a runtime shares."""

    invoker: ModelInvoker
    clock: Clock
    scheduler: Scheduler
    cost: CostCalculator
    sink: MetricsSink
    tracker: ThreadTracker
    router: pykka.ActorRef[Any]
    registry: pykka.ActorRef[Any]


class VersionActor(ServingActor):
    """Owns one version: LOADING → READY → DRAINING → STOPPED, or FAILED.

    All handlers run on the actor's own thread; nothing here blocks. Requests
    arrive as `Infer` from the router or an experiment actor, wait in a
    bounded queue, and go to idle workers in batches. The version answers
    rejections, deadlines, drains and crashes itself; workers answer results.
    """

    def __init__(self, *, version: ModelVersion, generation: int, deps: VersionDeps, shown: ShownStatus) -> None:
        super().__init__()
        self._version = version
        self._shown = shown  # writes version.status: shared with the registry, which marks unloading
        self._generation = generation
        self._deps = deps
        self._config = version.serving
        self._status = ModelStatus.FAILED if generation > 1 else ModelStatus.LOADING
        c = self._config
        self._pool = ReplicaPool(
            WorkerFactory(version, deps.invoker, self.actor_ref, deps.clock, deps.cost, deps.tracker)
        )
        self._queue: BatchQueue[Work] = BatchQueue(
            max_queue=c.max_queue,
            max_batch_size=c.max_batch_size,
            batch_wait_s=c.batch_wait_ms / 1000.0,
            max_concurrency=c.effective_max_concurrency,
            answered=lambda work: work.reply.done,
        )
        self._books = VersionLedger(version, generation, clock=deps.clock, sink=deps.sink, router=deps.router)
        self._deadline_timer: TimerHandle | None = None
        self._deadline_at = float("inf")
        self._flush_timer: TimerHandle | None = None
        self._drain_timer: TimerHandle | None = None
        self._probe_timer: TimerHandle | None = None
        self._probes = ProbeTracker(c.health_check_threshold)
        self._last_probe_report: ProbeSummary | None = None
        self._finished = False
        self._accepting = False  # READY/SERVING: flags, because enum hashing is slow on the hot path
        self._dispatching = False  # READY/SERVING/DRAINING
        self._sink = deps.sink
        self._max_batch = c.max_batch_size
        self._cap = c.effective_max_concurrency
        self._answered_running: set[str] = set()
        self._handlers: dict[type, Callable[[Any], None]] = {
            Infer: self._on_infer,
            Done: self._on_done,
            Loaded: self._on_loaded,
            LoadFailed: self._on_load_failed,
            WorkerCrashed: self._on_worker_crashed,
            RetryLoad: self._on_restart_worker,
            RestartWorker: self._on_restart_worker,
            ExpireDeadlines: self._on_expire,
            FlushBatch: self._on_flush,
            Drain: self._on_drain,
            DrainTimeout: self._on_drain_timeout,
            GetMetrics: self._on_get_metrics,
            ProbeHealth: self._on_probe,
            HealthChecked: self._on_health_checked,
        }

    # --- pykka hooks (actor thread) ------------------------------------------

    def on_start(self) -> None:
        """Start the replicas' workers; each loads in its own thread."""
        self._deps.tracker.add_current()
        safe_tell(self._deps.router, VersionAdded(self._version, self._generation, self.actor_ref))
        if self._status is ModelStatus.FAILED:  # a restarted generation
            self._apply(LifecycleEvent.RESTART)
        else:
            self._publish(None)
        self._accepting = self._status in ROUTABLE
        self._dispatching = self._accepting
        for index in range(len(self._pool)):
            self._pool.start(index)

    def on_receive(self, message: object) -> None:
        """Dispatch by message type; an unknown type is a bug and crashes the actor."""
        handler = self._handlers.get(type(message))
        if handler is None:
            msg = f"VersionActor cannot handle {type(message).__name__}"
            raise UnexpectedMessageError(msg)
        handler(message)
        if self._sink.active:
            self._books.load_changed(len(self._queue), self._queue.in_flight, self._pool.loaded_count)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Answer everything held UNAVAILABLE, stop the workers, and tell the registry."""
        error = describe_exception(exception_value) if exception_value else "unknown failure"
        log.error("version actor crashed: %s", error, extra=self._log_extra())
        self._answer_all(ErrorCode.UNAVAILABLE, "Version actor crashed")
        self._pool.stop_all()
        self._cancel_timers()
        self._finished = True
        safe_tell(
            self._deps.registry,
            VersionCrashed(self._version.version_id, self._generation, error, self._snapshot()),
        )

    # --- lifecycle -----------------------------------------------------------

    def _apply(self, event: LifecycleEvent, error: str | None = None) -> None:
        old = self._status
        self._status = transition(old, event)
        self._accepting = self._status in ROUTABLE
        self._dispatching = self._accepting or self._status is ModelStatus.DRAINING
        log.info(
            "version %s: %s -> %s",
            self._version.version_id,
            old.value,
            self._status.value,
            extra={**self._log_extra(), "event": event.value, "error": error},
        )
        self._publish(error)
        if self._status is ModelStatus.READY and self._config.health_check_period_s > 0:
            self._probe_timer = self._later(self._config.health_check_period_s, ProbeHealth())

    def _publish(self, error: str | None) -> None:
        version, status = self._version, self._status
        self._shown.show(status)
        if status is ModelStatus.READY:
            version.loaded_at = self._deps.clock.now()
            version.last_error = None
        if error is not None:
            version.last_error = error
        event = StatusChanged(version.version_id, self._generation, status, error)
        safe_tell(self._deps.router, event)
        safe_tell(self._deps.registry, event)
        try:
            self._deps.sink.status_changed(version, status, self._deps.clock.monotonic())
        except Exception:
            log.exception("metrics sink failed on status change")

    def _on_loaded(self, m: Loaded) -> None:
        if not self._pool.is_current(m.worker, m.generation) or self._finished:
            return
        self._pool.loaded(m.worker)
        log.info("replica %d loaded in %.3fs", m.worker, m.load_s, extra=self._log_extra())
        self._books.replica_loaded(m.load_s)
        if self._status is ModelStatus.LOADING and (
            not self._config.wait_for_all_replicas or self._pool.loaded_count == len(self._pool)
        ):
            self._apply(LifecycleEvent.LOADED)
            self._send_stats()
        self._dispatch(self._deps.clock.monotonic())
        self._maybe_finish_drain()

    def _on_load_failed(self, m: LoadFailed) -> None:
        if not self._pool.is_current(m.worker, m.generation) or self._finished:
            return
        attempts = self._pool.load_failed(m.worker)
        self._version.last_error = m.error
        log.warning(
            "replica %d failed to load (attempt %d): %s",
            m.worker,
            attempts,
            m.error,
            extra={**self._log_extra(), "error": m.error},
        )
        if self._status is ModelStatus.DRAINING:
            self._maybe_finish_drain()
            return
        if attempts <= self._config.load_retries:
            self._later(self._config.load_backoff_s * (1 << (attempts - 1)), RetryLoad(m.worker))
            return
        self._pool.give_up(m.worker)
        if self._status is ModelStatus.LOADING and self._pool.hopeless(need_all=self._config.wait_for_all_replicas):
            self._apply(LifecycleEvent.LOAD_FAILED, m.error)
            self._finish()

    def _on_restart_worker(self, m: RetryLoad | RestartWorker) -> None:
        if self._status in ROUTABLE or self._status is ModelStatus.LOADING:
            self._probes.forget(m.worker)
            self._pool.start(m.worker)

    def _on_worker_crashed(self, m: WorkerCrashed) -> None:
        if not self._pool.is_current(m.worker, m.generation) or self._finished:
            return
        log.error("replica %d crashed: %s", m.worker, m.error, extra=self._log_extra())
        self._replace_worker(
            m.worker, self._pool.crashed(m.worker), m.error, "Worker crashed while running the request"
        )

    def _on_probe(self, _: ProbeHealth) -> None:
        if self._status not in ROUTABLE:
            return
        now = self._deps.clock.monotonic()
        timeout = self._config.health_check_timeout_s
        for index, ref in self._pool.loaded_workers():
            due = self._probes.due(index, now, timeout)
            if due == "send":
                self._probes.sent(index, now)
                safe_tell(ref, CheckHealth())
            elif due == "overdue":
                self._probe_result(index, healthy=False, error=f"no answer to its health probe within {timeout:g}s")
        if self._status in ROUTABLE:  # a replaced replica may have failed the version
            self._probe_timer = self._later(self._config.health_check_period_s, ProbeHealth())

    def _on_health_checked(self, m: HealthChecked) -> None:
        if not self._pool.is_current(m.worker, m.generation) or self._finished:
            return
        self._probes.answered(m.worker)
        self._probe_result(m.worker, healthy=m.healthy, error=m.error)

    def _probe_result(self, worker: int, *, healthy: bool, error: str | None) -> None:
        replace = self._probes.record(worker, healthy, error)
        if not healthy:
            log.warning("replica %d failed its health probe: %s", worker, error, extra=self._log_extra())
        summary = self._probes.summary()
        if summary != self._last_probe_report:
            self._last_probe_report = summary
            report = HealthReport(
                self._version.version_id, self._generation, summary.healthy, summary.probed, summary.error
            )
            safe_tell(self._deps.registry, report)
        if replace and self._status in ROUTABLE:
            reason = f"failed {self._config.health_check_threshold} health probes in a row: {error}"
            log.error("replica %d %s; replacing it", worker, reason, extra=self._log_extra())
            self._probes.forget(worker)
            self._replace_worker(worker, self._pool.retire(worker), reason, "Replica failed its health probes")

    def _replace_worker(self, index: int, held: list[Work], error: str, answer: str) -> None:
        """A replica is gone (crashed or retired): answer what it held, then restart it or fail the version."""
        self._queue.finished(len(held))
        counted = self._answered_running  # answered (and counted) by us at their deadline
        fresh = [w for w in held if w.request.request_id not in counted]
        counted.difference_update(w.request.request_id for w in held)
        self._books.close_out(fresh, ErrorCode.UNAVAILABLE, answer)
        if self._status is ModelStatus.DRAINING:
            self._maybe_finish_drain()
            return
        delay = self._pool.record_crash(index, self._deps.clock.monotonic())
        if delay is None:
            window = self._config.restart_window_s
            error = f"worker crashed {self._pool.crash_count(index)} times in {window:g}s: {error}"
            self._answer_all(ErrorCode.UNAVAILABLE, "Version failed")
            self._apply(LifecycleEvent.CRASHED, error)
            self._finish()
            return
        log.warning("restarting replica %d in %.3fs", index, delay, extra=self._log_extra())
        self._later(delay, RestartWorker(index))

    def _on_drain(self, _: Drain) -> None:
        if self._status not in ROUTABLE and self._status is not ModelStatus.LOADING:
            return
        self._apply(LifecycleEvent.DRAIN)
        self._drain_timer = self._later(self._config.drain_timeout_s, DrainTimeout())
        self._dispatch(self._deps.clock.monotonic())
        self._maybe_finish_drain()

    def _on_drain_timeout(self, _: DrainTimeout) -> None:
        if self._status is not ModelStatus.DRAINING or self._finished:
            return
        log.warning("drain timed out; answering what is left", extra=self._log_extra())
        self._answer_all(ErrorCode.UNAVAILABLE, "Model unloaded before the request finished")
        self._finish()

    def _maybe_finish_drain(self) -> None:
        # A batch whose requests were all answered already (deadline passed) holds
        # nobody up: its worker stops once the invoker returns.
        if (
            self._status is ModelStatus.DRAINING
            and not self._queue.items
            and all(w.reply.done for w in self._pool.running())
        ):
            self._finish()

    def _finish(self) -> None:
        """End the actor: STOPPED after a drain, or staying FAILED."""
        if self._finished:
            return
        self._finished = True
        self._cancel_timers()
        self._pool.stop_all()
        if self._status is ModelStatus.DRAINING:
            self._apply(LifecycleEvent.DRAINED)
        safe_tell(self._deps.registry, Ended(self._version.version_id, self._generation, self._snapshot()))
        self.stop()

    # --- request path --------------------------------------------------------

    def _on_infer(self, m: Infer) -> None:
        now = self._deps.clock.monotonic()
        if not self._accepting:
            status = self._status
            if status is ModelStatus.LOADING or status is ModelStatus.FAILED:
                self._books.reject(m, ErrorCode.NOT_READY, "Model not ready")
            else:
                self._books.reject(m, ErrorCode.UNAVAILABLE, "Model is draining")
            return
        timeout_ms = self._config.timeout_ms if m.timeout_ms is None else m.timeout_ms
        work = Work(m.request, m.reply, m.started_at, m.started_at + timeout_ms / 1000.0, now)
        queue = self._queue
        if (
            self._max_batch == 1
            and not queue.items
            and queue.in_flight < self._cap
            and self._pool.idle
            and now < work.deadline
        ):
            # the common case: a worker is free and nobody waits, so skip the queue
            queue.in_flight += 1
            self._send([work])
        else:
            admitted = queue.admit(work, now)
            if admitted is Admit.FULL:
                self._books.reject(m, ErrorCode.OVERLOADED, f"Queue full ({self._config.max_queue} waiting)")
                return
            if admitted is Admit.EXPIRED:
                self._books.reject(m, ErrorCode.TIMEOUT, "Deadline passed before the request was admitted")
                return
            self._dispatch(now)
        if work.deadline < self._deadline_at:
            self._arm_deadline(work.deadline)

    def _send(self, batch: list[Work]) -> None:
        """Hand `batch` (already counted in flight) to a worker."""
        ref = self._pool.assign(batch)
        if ref is None or not safe_tell(ref, RunBatch(tuple(batch))):
            if ref is not None:
                self._pool.unassign(ref)
            self._queue.finished(len(batch))
            self._books.close_out(batch, ErrorCode.UNAVAILABLE, "Worker is gone")

    def _dispatch(self, now: float) -> None:
        queue, pool = self._queue, self._pool
        if not queue.items or not self._dispatching:
            return
        if self._max_batch == 1:
            self._dispatch_unbatched(now)
            return
        draining = self._status is ModelStatus.DRAINING
        while queue.items:
            if pool.idle:
                take = queue.take(now, draining=draining)
            elif queue.full_batch_waiting and pool.can_pipeline:
                take = queue.take(now, draining=True)  # a full batch never waits
            else:
                return
            if take.answered:
                self._books.record_answered_elsewhere(take.answered)
            if take.expired:
                self._books.answer_errors(take.expired, ErrorCode.TIMEOUT, "Deadline passed while queued")
            if take.flush_at is not None:
                self._arm_flush(take.flush_at)
                return
            if not take.batch:
                if take.expired or take.answered:
                    continue
                return
            self._send(take.batch)

    def _dispatch_unbatched(self, now: float) -> None:
        """One request per batch, nothing to wait for: the hot path, kept lean."""
        queue, pool = self._queue, self._pool
        while queue.items and queue.has_room and (pool.idle or pool.can_pipeline):
            work, expired, answered = queue.pop_ready(now)
            if answered:
                self._books.record_answered_elsewhere(answered)
            if expired:
                self._books.answer_errors(expired, ErrorCode.TIMEOUT, "Deadline passed while queued")
            if work is None:
                return
            self._send([work])

    def _on_done(self, m: Done) -> None:
        if m.outcomes:
            self._books.completed(m.outcomes)
        if self._finished:
            return
        batch = self._pool.release(m.worker, m.generation)
        self._queue.finished(len(batch))
        if len(m.outcomes) < len(batch):
            self._record_unanswered_by_worker(batch, m.outcomes)
        now = self._deps.clock.monotonic()
        self._dispatch(now)
        if self._books.stats_due(now):
            self._send_stats()
        self._maybe_finish_drain()

    def _record_unanswered_by_worker(self, batch: list[Work], outcomes: tuple[Outcome, ...]) -> None:
        """Requests of a finished batch the worker did not answer: count whoever did, once."""
        by_worker = {o.request_id for o in outcomes}
        elsewhere = []
        for work in batch:
            rid = work.request.request_id
            if rid in by_worker:
                continue
            if rid in self._answered_running:
                self._answered_running.discard(rid)  # the version answered it (and counted it)
            elif work.reply.done:
                elsewhere.append(work)  # the caller or an experiment answered it first
        self._books.record_answered_elsewhere(elsewhere)

    def _on_flush(self, _: FlushBatch) -> None:
        self._flush_timer = None
        self._dispatch(self._deps.clock.monotonic())

    def _on_expire(self, _: ExpireDeadlines) -> None:
        self._deadline_timer = None
        self._deadline_at = float("inf")
        now = self._deps.clock.monotonic()
        expired, answered = self._queue.expire(now)
        self._books.record_answered_elsewhere(answered)
        self._books.answer_errors(expired, ErrorCode.TIMEOUT, "Deadline passed while queued")
        running = [w for w in self._pool.running() if not w.reply.done]
        late = [w for w in running if now >= w.deadline]
        answered = self._books.answer_errors(late, ErrorCode.TIMEOUT, "Deadline passed while running")
        self._answered_running.update(w.request.request_id for w in answered)
        pending = [w.deadline for w in self._queue if not w.reply.done]
        pending.extend(w.deadline for w in running if now < w.deadline)
        if pending:
            self._arm_deadline(min(pending))
        self._maybe_finish_drain()

    def _on_get_metrics(self, m: GetMetrics) -> None:
        m.reply.set(self._snapshot())

    # --- answers and metrics -------------------------------------------------

    def _answer_all(self, code: ErrorCode, error: str) -> None:
        self._books.close_out(self._queue.clear(), code, error)
        self._books.answer_errors(list(self._pool.running()), code, error)

    def _snapshot(self) -> ModelMetrics:
        return self._books.snapshot(
            queue_depth=len(self._queue),
            in_flight=self._queue.in_flight,
            replicas_ready=self._pool.loaded_count,
            status=self._status,
        )

    def _send_stats(self) -> None:
        self._books.send_stats(self._queue.in_flight + len(self._queue))

    # --- timers --------------------------------------------------------------

    def _later(self, delay_s: float, message: object) -> TimerHandle:
        ref = self.actor_ref
        return self._deps.scheduler.call_later(delay_s, lambda: safe_tell(ref, message))

    def _arm_deadline(self, at: float) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
        self._deadline_at = at
        ref = self.actor_ref
        self._deadline_timer = self._deps.scheduler.call_at(at, lambda: safe_tell(ref, ExpireDeadlines()))

    def _arm_flush(self, at: float) -> None:
        if self._flush_timer is None:
            ref = self.actor_ref
            self._flush_timer = self._deps.scheduler.call_at(at, lambda: safe_tell(ref, FlushBatch()))

    def _cancel_timers(self) -> None:
        for timer in (self._deadline_timer, self._flush_timer, self._drain_timer, self._probe_timer):
            if timer is not None:
                timer.cancel()
        self._deadline_timer = self._flush_timer = self._drain_timer = self._probe_timer = None

    def _log_extra(self) -> dict[str, object]:
        return {"model": self._version.model_name, "version": self._version.version_id}
