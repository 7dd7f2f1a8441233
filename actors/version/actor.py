"""VersionActor: the Pykka shell around one version's `VersionCore`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from actorserve.actors.base import ServingActor, describe_exception, handles
from actorserve.actors.keys import VersionKey
from actorserve.actors.messages import (
    Done,
    Drain,
    Ended,
    GetMetrics,
    HealthChecked,
    HealthReport,
    Infer,
    Loaded,
    LoadFailed,
    StatusChanged,
    TimerFired,
    VersionAdded,
    VersionCrashed,
    Work,
    WorkerCrashed,
    safe_tell,
)
from actorserve.actors.scheduler import Scheduler
from actorserve.actors.status import ShownStatus
from actorserve.actors.timers import Timers
from actorserve.actors.tracking import ThreadTracker
from actorserve.actors.version.core import VersionCore
from actorserve.actors.version.effects import NOTHING, Effects
from actorserve.actors.version.ledger import VersionLedger
from actorserve.actors.version.replicas import WorkerFactory, Workers
from actorserve.domain.entities import ModelMetrics, ModelVersion
from actorserve.domain.enums import ModelStatus
from actorserve.domain.lifecycle import LifecycleEvent
from actorserve.domain.ports import Clock, CostCalculator, MetricsSink, ModelInvoker

if TYPE_CHECKING:
    import pykka

__all__ = ["VersionActor", "VersionDeps"]

log = logging.getLogger(__name__)

_STATS = "stats"
"""The shell's own timer slot: figures the router has not heard yet (the core's slots are other names)."""


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
    """Owns one version generation: LOADING → READY → DRAINING → STOPPED, or FAILED.

    Every decision is the core's (`VersionCore`); this shell runs on the
    actor's own thread, turns messages and timer ticks into calls on it, and
    carries out the effects it returns: answers (through the ledger, which
    counts each request once), batches to workers, worker starts and stops,
    timers, and lifecycle events for the router, the registry and the sinks.
    Workers answer results themselves. Nothing here blocks.
    """

    def __init__(self, *, version: ModelVersion, key: VersionKey, deps: VersionDeps, shown: ShownStatus) -> None:
        super().__init__()
        self._version = version
        self._key = key
        self._deps = deps
        self._shown = shown  # writes version.status: shared with the registry, which marks unloading
        first = LifecycleEvent.RESTART if key.generation > 1 else None
        self._core = VersionCore(key, version.serving, first=first)
        self._clock = deps.clock
        self._sink = deps.sink
        self._workers = Workers(
            WorkerFactory(version, deps.invoker, self.actor_ref, deps.clock, deps.cost, deps.tracker)
        )
        self._timers = Timers(deps.scheduler, self.actor_ref)
        self._stats_armed = False
        self._books = VersionLedger(version, key, clock=deps.clock, sink=deps.sink, router=deps.router)
        self._timeout_s = version.serving.timeout_ms / 1000.0
        self._batched = version.serving.max_batch_size > 1 or version.serving.adaptive_batching
        """Batch sizes (and, when adaptive, the fitted cost) go to the sinks; unbatched versions skip it."""
        self._extra = {"model": version.model_name, "version": version.version_id}

    # --- pykka hooks (actor thread) ------------------------------------------

    def on_start(self) -> None:
        """Announce this generation to the router, then start the replicas' workers (each loads in its own thread)."""
        self._deps.tracker.add_current()
        safe_tell(self._deps.router, VersionAdded(self._version, self._key, self.actor_ref))
        effects = self._core.start(self._clock.monotonic())
        if not effects.transitions:
            self._publish(self._core.status, None)
        self._carry_out(effects)

    def on_receive(self, message: Any) -> None:
        """Dispatch, then tell the sinks about a changed load (actor thread)."""
        handler = self._handler_table.get(type(message))
        if handler is None:
            super().on_receive(message)  # raises UnexpectedMessageError
            return
        handler(self, message)  # looked up here rather than through super(): one frame less per message
        if self._sink.active:
            core = self._core
            self._books.load_changed(len(core.queue), core.queue.in_flight, core.slots.loaded_count)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Answer everything held UNAVAILABLE, stop the workers, and tell the registry."""
        error = describe_exception(exception_value) if exception_value else "unknown failure"
        log.error("version actor crashed: %s", error, extra=self._extra)
        effects = self._core.crashed()
        for answer in effects.answers:
            self._books.answer(answer)
        for key in effects.stop:
            self._workers.stop(key)
        self._timers.cancel_all()
        safe_tell(self._deps.registry, VersionCrashed(self._key, error, self._snapshot()))

    # --- messages ------------------------------------------------------------

    @handles(Infer)
    def _on_infer(self, m: Infer) -> None:
        now = self._clock.monotonic()
        timeout_s = self._timeout_s if m.timeout_ms is None else m.timeout_ms / 1000.0
        work = Work(m.request, m.reply, m.started_at, m.started_at + timeout_s, now)
        effects = self._core.infer(now, work)
        if effects.sends_only:
            self._send(effects)  # the hot path: straight to a free worker
        else:
            self._carry_out(effects)

    @handles(Done)
    def _on_done(self, m: Done) -> None:
        if m.outcomes:
            self._books.completed(m.outcomes)
        now = self._clock.monotonic()
        effects = self._core.done(now, m.replica, m.outcomes, ran=m.ran, batch_s=m.batch_s)
        if m.ran and self._batched:
            self._books.batch_finished(m.ran, m.batch_s, self._core.batch_cost)
        if effects.sends_only:
            self._send(effects)  # under load: the next request to the freed worker
        elif effects is not NOTHING:
            self._carry_out(effects)
        self._stats(now)

    @handles(Loaded)
    def _on_loaded(self, m: Loaded) -> None:
        if self._core.slots.current(m.replica) and not self._core.finished:
            log.info("replica %s loaded in %.3fs", m.replica, m.load_s, extra=self._extra)
            self._books.replica_loaded(m.load_s)
        self._carry_out(self._core.loaded(self._clock.monotonic(), m.replica))

    @handles(LoadFailed)
    def _on_load_failed(self, m: LoadFailed) -> None:
        if self._core.slots.current(m.replica) and not self._core.finished:
            self._version.last_error = m.error
            log.warning("replica %s failed to load: %s", m.replica, m.error, extra={**self._extra, "error": m.error})
        self._carry_out(self._core.load_failed(self._clock.monotonic(), m.replica, m.error))

    @handles(WorkerCrashed)
    def _on_worker_crashed(self, m: WorkerCrashed) -> None:
        if self._core.slots.current(m.replica) and not self._core.finished:
            log.error("replica %s crashed: %s", m.replica, m.error, extra=self._extra)
        self._carry_out(self._core.worker_crashed(self._clock.monotonic(), m.replica, m.error))

    @handles(HealthChecked)
    def _on_health_checked(self, m: HealthChecked) -> None:
        self._carry_out(self._core.health_checked(self._clock.monotonic(), m.replica, m.healthy, m.error))

    @handles(Drain)
    def _on_drain(self, _: Drain) -> None:
        self._carry_out(self._core.drain(self._clock.monotonic()))

    @handles(TimerFired)
    def _on_timer(self, m: TimerFired) -> None:
        now = self._clock.monotonic()
        if m.name == _STATS:
            self._stats_armed = False
            self._stats(now)
            return
        self._carry_out(self._core.timer(now, m.name))

    @handles(GetMetrics)
    def _on_get_metrics(self, m: GetMetrics) -> None:
        m.reply.set(self._snapshot())

    # --- effects -------------------------------------------------------------

    def _carry_out(self, effects: Effects) -> None:
        """Do what the core decided, in its order: answers, workers, batches, probes, timers, events."""
        books, workers = self._books, self._workers
        for answer in effects.answers:
            books.answer(answer)
        if effects.counted:
            books.count_answered(effects.counted)
        for key in effects.stop:
            workers.stop(key)
        for key in effects.start:
            workers.start(key)
        if effects.send:
            self._send(effects)
        for key in effects.probe:
            workers.probe(key)
        for line in effects.warnings:
            log.warning(line, extra=self._extra)
        if effects.timers and not self._core.finished:
            self._timers.apply(effects.timers)
        if effects.answers or effects.counted:
            self._stats(self._clock.monotonic())
        self._announce(effects)

    def _stats(self, now: float) -> None:
        """Send the router this version's figures when due; when some are held back, arm a timer for them.

        Under load, figures go every `_STATS_EVERY` answers; when traffic
        stops, the timer sends the last ones, so the router (and INTELLIGENT
        routing's stored evidence) never misses the answers of a quiet tail.
        """
        books = self._books
        if self._core.finished or not books.stats_behind:
            return
        if books.stats_due(now):
            books.send_stats(self._core.load)
        elif not self._stats_armed:
            self._stats_armed = True
            self._timers.apply(((_STATS, books.stats_due_at),))

    def _send(self, effects: Effects) -> None:
        workers = self._workers
        for index, batch in effects.send:
            if not workers.send(index, batch):
                self._carry_out(self._core.unreachable(self._clock.monotonic(), index))

    def _announce(self, effects: Effects) -> None:
        """Tell the router, the registry and the sinks what changed; end the actor when finished."""
        if effects.transitions and self._books.stats_behind:
            self._books.send_stats(self._core.load)  # the last figures before the router hears of the change
        for t in effects.transitions:
            extra = {**self._extra, "event": t.event.value, "error": t.error}
            log.info("version %s: %s -> %s", self._key, t.old.value, t.new.value, extra=extra)
            self._publish(t.new, t.error)
            if t.new is ModelStatus.READY:
                self._books.send_stats(self._core.load)
        registry = self._deps.registry
        if effects.report is not None:
            r = effects.report
            safe_tell(registry, HealthReport(self._key, r.healthy, r.probed, r.error))
        if effects.finished:
            self._timers.cancel_all()
            safe_tell(registry, Ended(self._key, self._snapshot()))
            self.stop()

    def _publish(self, status: ModelStatus, error: str | None) -> None:
        version = self._version
        self._shown.show(status)
        if status is ModelStatus.READY:
            version.loaded_at = self._clock.now()
            version.last_error = None
        if error is not None:
            version.last_error = error
        event = StatusChanged(self._key, status, error)
        safe_tell(self._deps.router, event)
        safe_tell(self._deps.registry, event)
        try:
            self._sink.status_changed(version, status, self._clock.monotonic())
        except Exception:
            log.exception("metrics sink failed on status change")

    def _snapshot(self) -> ModelMetrics:
        core = self._core
        return self._books.snapshot(
            queue_depth=len(core.queue),
            in_flight=core.queue.in_flight,
            replicas_ready=core.slots.loaded_count,
            status=core.status,
        )
