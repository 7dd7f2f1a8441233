"""VersionActor: one model version's lifecycle, admission, queue, batching, deadlines, metrics."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pykka

from actors.messages import (
    Done,
    Drain,
    DrainTimeout,
    Ended,
    ExpireDeadlines,
    FlushBatch,
    GetMetrics,
    Infer,
    Loaded,
    LoadFailed,
    RestartWorker,
    RetryLoad,
    RunBatch,
    StatusChanged,
    UnexpectedMessageError,
    VersionAdded,
    VersionCrashed,
    VersionStats,
    Work,
    WorkerCrashed,
    safe_tell,
)
from actors.scheduler import Scheduler, TimerHandle
from actors.tracking import ThreadTracker
from actors.worker import WorkerActor, describe_exception
from domain.entities import ModelMetrics, ModelResponse, ModelVersion
from domain.enums import ErrorCode, ModelStatus
from domain.lifecycle import ROUTABLE, LifecycleEvent, transition
from domain.metrics import Ewma, MetricsRecorder, Outcome
from domain.ports import Clock, CostCalculator, MetricsSink, ModelInvoker

__all__ = ["VersionActor", "VersionDeps"]

log = logging.getLogger(__name__)

_STATS_INTERVAL_S = 0.05


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


@dataclass(slots=True)
class _Replica:
    generation: int = 0
    ref: pykka.ActorRef[Any] | None = None
    loaded: bool = False
    batch: list[Work] | None = None
    load_attempts: int = 0
    gave_up: bool = False
    restarts: deque[float] = field(default_factory=deque)


class VersionActor(pykka.ThreadingActor):
    """Owns one version: LOADING → READY → DRAINING → STOPPED, or FAILED.

    All handlers run on the actor's own thread; nothing here blocks. Requests
    arrive as `Infer` from the router or an experiment actor, wait in a
    bounded queue, and go to idle workers in batches. The version answers
    rejections, deadlines, drains and crashes itself; workers answer results.
    """

    def __init__(self, *, version: ModelVersion, generation: int, deps: VersionDeps) -> None:
        super().__init__()
        self._version = version
        self._generation = generation
        self._deps = deps
        self._config = version.serving
        self._status = ModelStatus.FAILED if generation > 1 else ModelStatus.LOADING
        self._replicas = [_Replica() for _ in range(self._config.replicas)]
        self._idle: list[int] = []
        self._queue: deque[Work] = deque()
        self._in_flight = 0
        self._metrics = MetricsRecorder()
        self._latency = Ewma(alpha=0.2)
        self._last_stats = 0.0
        self._deadline_timer: TimerHandle | None = None
        self._deadline_at = float("inf")
        self._flush_timer: TimerHandle | None = None
        self._drain_timer: TimerHandle | None = None
        self._finished = False
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
        for index in range(len(self._replicas)):
            self._start_worker(index)

    def on_receive(self, message: object) -> None:
        """Dispatch by message type; an unknown type is a bug and crashes the actor."""
        handler = self._handlers.get(type(message))
        if handler is None:
            msg = f"VersionActor cannot handle {type(message).__name__}"
            raise UnexpectedMessageError(msg)
        handler(message)

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
        self._stop_workers()
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
        log.info(
            "version %s: %s -> %s",
            self._version.version_id,
            old.value,
            self._status.value,
            extra={**self._log_extra(), "event": event.value, "error": error},
        )
        self._publish(error)

    def _publish(self, error: str | None) -> None:
        version, status = self._version, self._status
        version.status = status
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

    def _start_worker(self, index: int) -> None:
        replica = self._replicas[index]
        replica.generation += 1
        replica.loaded = False
        replica.batch = None
        d = self._deps
        replica.ref = WorkerActor.start(
            index=index,
            generation=replica.generation,
            version=self._version,
            invoker=d.invoker,
            parent=self.actor_ref,
            clock=d.clock,
            cost=d.cost,
            tracker=d.tracker,
        )

    def _current(self, index: int, generation: int) -> _Replica | None:
        replica = self._replicas[index]
        return replica if replica.generation == generation else None

    def _on_loaded(self, m: Loaded) -> None:
        replica = self._current(m.worker, m.generation)
        if replica is None or self._finished:
            return
        replica.loaded = True
        replica.load_attempts = 0
        self._idle.append(m.worker)
        log.info("replica %d loaded in %.3fs", m.worker, m.load_s, extra=self._log_extra())
        if self._status is ModelStatus.LOADING:
            loaded = sum(r.loaded for r in self._replicas)
            if not self._config.wait_for_all_replicas or loaded == len(self._replicas):
                self._apply(LifecycleEvent.LOADED)
                self._send_stats(force=True)
        self._dispatch(self._deps.clock.monotonic())
        self._maybe_finish_drain()

    def _on_load_failed(self, m: LoadFailed) -> None:
        replica = self._current(m.worker, m.generation)
        if replica is None or self._finished:
            return
        replica.ref = None
        replica.loaded = False
        replica.load_attempts += 1
        self._version.last_error = m.error
        log.warning(
            "replica %d failed to load (attempt %d): %s",
            m.worker,
            replica.load_attempts,
            m.error,
            extra=self._log_extra(),
        )
        if self._status is ModelStatus.DRAINING:
            self._maybe_finish_drain()
            return
        if replica.load_attempts <= self._config.load_retries:
            delay = self._config.load_backoff_s * 2 ** (replica.load_attempts - 1)
            self._later(delay, RetryLoad(m.worker))
            return
        replica.gave_up = True
        hopeless = self._config.wait_for_all_replicas or (
            all(r.gave_up for r in self._replicas if not r.loaded) and not any(r.loaded for r in self._replicas)
        )
        if self._status is ModelStatus.LOADING and hopeless:
            self._apply(LifecycleEvent.LOAD_FAILED, m.error)
            self._finish()

    def _on_restart_worker(self, m: RetryLoad | RestartWorker) -> None:
        if self._status in ROUTABLE or self._status is ModelStatus.LOADING:
            self._start_worker(m.worker)

    def _on_worker_crashed(self, m: WorkerCrashed) -> None:
        replica = self._current(m.worker, m.generation)
        if replica is None or self._finished:
            return
        log.error("replica %d crashed: %s", m.worker, m.error, extra=self._log_extra())
        if replica.batch:
            self._in_flight -= len(replica.batch)
            for work in replica.batch:
                self._answer_error(work, ErrorCode.UNAVAILABLE, "Worker crashed while running the request")
        replica.batch = None
        replica.ref = None
        replica.loaded = False
        if m.worker in self._idle:
            self._idle.remove(m.worker)
        if self._status is ModelStatus.DRAINING:
            self._maybe_finish_drain()
            return
        now = self._deps.clock.monotonic()
        window = self._config.restart_window_s
        while replica.restarts and now - replica.restarts[0] > window:
            replica.restarts.popleft()
        replica.restarts.append(now)
        if len(replica.restarts) > self._config.max_restarts:
            error = f"worker crashed {len(replica.restarts)} times in {window:g}s: {m.error}"
            self._answer_all(ErrorCode.UNAVAILABLE, "Version failed")
            self._apply(LifecycleEvent.CRASHED, error)
            self._finish()
            return
        delay = self._config.restart_backoff_s * 2 ** (len(replica.restarts) - 1)
        log.warning("restarting replica %d in %.3fs", m.worker, delay, extra=self._log_extra())
        self._later(delay, RestartWorker(m.worker))

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
            and not self._queue
            and all(w.reply.done for r in self._replicas for w in r.batch or ())
        ):
            self._finish()

    def _finish(self) -> None:
        """End the actor: STOPPED after a drain, or staying FAILED."""
        if self._finished:
            return
        self._finished = True
        self._cancel_timers()
        self._stop_workers()
        if self._status is ModelStatus.DRAINING:
            self._apply(LifecycleEvent.DRAINED)
        safe_tell(self._deps.registry, Ended(self._version.version_id, self._generation, self._snapshot()))
        self.stop()

    def _stop_workers(self) -> None:
        for replica in self._replicas:
            if replica.ref is not None:
                replica.ref.stop(block=False)
                replica.ref = None
            replica.loaded = False
        self._idle.clear()

    # --- request path --------------------------------------------------------

    def _on_infer(self, m: Infer) -> None:
        status = self._status
        now = self._deps.clock.monotonic()
        if status not in ROUTABLE:
            if status is ModelStatus.LOADING or status is ModelStatus.FAILED:
                self._reject(m, now, ErrorCode.NOT_READY, "Model not ready")
            else:
                self._reject(m, now, ErrorCode.UNAVAILABLE, "Model is draining")
            return
        timeout_ms = self._config.timeout_ms if m.timeout_ms is None else m.timeout_ms
        deadline = m.started_at + timeout_ms / 1000.0
        if now >= deadline:
            self._reject(m, now, ErrorCode.TIMEOUT, "Deadline passed before the request was admitted")
            return
        if len(self._queue) >= self._config.max_queue:
            log.debug("queue full", extra={**self._log_extra(), "request_id": m.request.request_id})
            self._reject(m, now, ErrorCode.OVERLOADED, f"Queue full ({self._config.max_queue} waiting)")
            return
        self._queue.append(Work(m.request, m.reply, m.started_at, deadline, now))
        self._dispatch(now)
        if deadline < self._deadline_at:
            self._arm_deadline(deadline)

    def _dispatch(self, now: float) -> None:
        if self._status not in ROUTABLE and self._status is not ModelStatus.DRAINING:
            return
        cap = self._config.effective_max_concurrency
        max_batch = self._config.max_batch_size
        queue = self._queue
        while self._idle and queue:
            limit = min(max_batch, cap - self._in_flight)
            if limit <= 0:
                return
            if limit > 1 and len(queue) < limit and self._config.batch_wait_ms > 0:
                flush_at = queue[0].enqueued_at + self._config.batch_wait_ms / 1000.0
                if now < flush_at and self._status is not ModelStatus.DRAINING:
                    self._arm_flush(flush_at)
                    return
            items: list[Work] = []
            while queue and len(items) < limit:
                work = queue.popleft()
                if work.reply.done:
                    self._record_answered_elsewhere(work)
                elif now >= work.deadline:
                    self._answer_error(work, ErrorCode.TIMEOUT, "Deadline passed while queued")
                else:
                    items.append(work)
            if not items:
                continue
            index = self._idle.pop()
            replica = self._replicas[index]
            replica.batch = items
            self._in_flight += len(items)
            ref = replica.ref
            if ref is None or not safe_tell(ref, RunBatch(tuple(items))):
                self._in_flight -= len(items)
                replica.batch = None
                replica.loaded = False
                for work in items:
                    self._answer_error(work, ErrorCode.UNAVAILABLE, "Worker is gone")

    def _on_done(self, m: Done) -> None:
        if m.outcomes:
            self._record(m.outcomes)
            total = 0.0
            for outcome in m.outcomes:
                total += outcome.latency_ms
            self._latency.update(total / len(m.outcomes))
        replica = self._current(m.worker, m.generation)
        if replica is not None and replica.batch is not None:
            self._in_flight -= len(replica.batch)
            replica.batch = None
            if replica.loaded and not self._finished:
                self._idle.append(m.worker)
        if self._finished:
            return
        now = self._deps.clock.monotonic()
        self._dispatch(now)
        if now - self._last_stats >= _STATS_INTERVAL_S:
            self._send_stats()
        self._maybe_finish_drain()

    def _on_flush(self, _: FlushBatch) -> None:
        self._flush_timer = None
        self._dispatch(self._deps.clock.monotonic())

    def _on_expire(self, _: ExpireDeadlines) -> None:
        self._deadline_timer = None
        self._deadline_at = float("inf")
        now = self._deps.clock.monotonic()
        if self._queue:
            kept: deque[Work] = deque()
            for work in self._queue:
                if work.reply.done:
                    self._record_answered_elsewhere(work)
                elif now >= work.deadline:
                    self._answer_error(work, ErrorCode.TIMEOUT, "Deadline passed while queued")
                else:
                    kept.append(work)
            self._queue = kept
        for replica in self._replicas:
            for work in replica.batch or ():
                if not work.reply.done and now >= work.deadline:
                    self._answer_error(work, ErrorCode.TIMEOUT, "Deadline passed while running")
        pending = [w.deadline for w in self._queue if not w.reply.done]
        for replica in self._replicas:
            pending.extend(w.deadline for w in replica.batch or () if not w.reply.done)
        if pending:
            self._arm_deadline(min(pending))
        self._maybe_finish_drain()

    def _on_get_metrics(self, m: GetMetrics) -> None:
        m.reply.set(self._snapshot())

    # --- answers and metrics -------------------------------------------------

    def _error_response(
        self, work_request_id: str, started_at: float, now: float, code: ErrorCode, error: str
    ) -> ModelResponse:
        return ModelResponse(
            request_id=work_request_id,
            model_id=self._version.model_name,
            version_id=self._version.version_id,
            output_data=None,
            latency_ms=(now - started_at) * 1000.0,
            timestamp=self._deps.clock.now(),
            success=False,
            error=error,
            error_code=code,
        )

    def _reject(self, m: Infer, now: float, code: ErrorCode, error: str) -> None:
        response = self._error_response(m.request.request_id, m.started_at, now, code, error)
        if m.reply.set(response):
            self._record((Outcome(response.request_id, False, response.latency_ms, code),))

    def _answer_error(self, work: Work, code: ErrorCode, error: str) -> None:
        now = self._deps.clock.monotonic()
        response = self._error_response(work.request.request_id, work.started_at, now, code, error)
        if work.reply.set(response):
            self._record((Outcome(response.request_id, False, response.latency_ms, code),))

    def _record_answered_elsewhere(self, work: Work) -> None:
        """The caller answered it (its own deadline, or cancellation): count that answer."""
        response = work.reply.value()
        self._record((Outcome(response.request_id, False, response.latency_ms, response.error_code),))

    def _answer_all(self, code: ErrorCode, error: str) -> None:
        while self._queue:
            self._answer_error(self._queue.popleft(), code, error)
        for replica in self._replicas:
            for work in replica.batch or ():
                self._answer_error(work, code, error)

    def _record(self, outcomes: tuple[Outcome, ...]) -> None:
        self._metrics.record_all(outcomes)
        try:
            self._deps.sink.requests_completed(self._version, outcomes)
        except Exception:
            log.exception("metrics sink failed on completed requests")

    def _snapshot(self) -> ModelMetrics:
        return self._metrics.snapshot(
            self._version.version_id,
            timestamp=self._deps.clock.now(),
            queue_depth=len(self._queue),
            in_flight=self._in_flight,
            replicas_ready=sum(r.loaded for r in self._replicas),
            status=self._status,
        )

    def _send_stats(self, *, force: bool = False) -> None:
        now = self._deps.clock.monotonic()
        if not force and now - self._last_stats < _STATS_INTERVAL_S:
            return
        self._last_stats = now
        m = self._metrics
        answered = m.succeeded + m.failed
        cost = m.cost_usd / m.succeeded if m.succeeded else None
        safe_tell(
            self._deps.router,
            VersionStats(
                self._version.version_id,
                self._generation,
                self._latency.value if answered else None,
                self._in_flight + len(self._queue),
                cost,
            ),
        )

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
        for timer in (self._deadline_timer, self._flush_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        self._deadline_timer = self._flush_timer = self._drain_timer = None

    def _log_extra(self) -> dict[str, object]:
        return {"model": self._version.model_name, "version": self._version.version_id}
