"""RegistryActor: version id → version actor; register, unload, list, wait, supervise."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actorserve.actors.base import ServingActor, handles
from actorserve.actors.keys import VersionKey
from actorserve.actors.messages import (
    Drain,
    Ended,
    Health,
    HealthReport,
    ListVersions,
    Lookup,
    Register,
    RestartVersion,
    Shutdown,
    StatusChanged,
    Unload,
    Unroute,
    VersionCrashed,
    WaitReady,
    safe_tell,
)
from actorserve.actors.reply import Reply
from actorserve.actors.scheduler import Scheduler, TimerHandle
from actorserve.actors.status import ShownStatus
from actorserve.actors.tracking import ThreadTracker
from actorserve.actors.version import VersionActor, VersionDeps
from actorserve.domain.entities import ModelMetrics, ModelVersion
from actorserve.domain.enums import ModelStatus
from actorserve.domain.lifecycle import ROUTABLE
from actorserve.domain.ports import Clock, CostCalculator, MetricsSink, ModelInvoker
from actorserve.domain.restarts import RestartBudget

if TYPE_CHECKING:
    import pykka

__all__ = ["RegistryActor"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    version: ModelVersion
    key: VersionKey = field(init=False)
    ref: pykka.ActorRef[Any] | None = None
    status: ModelStatus = ModelStatus.LOADING
    unloading: bool = False
    final_metrics: ModelMetrics | None = None
    restarts: RestartBudget = field(init=False)
    restart_timer: TimerHandle | None = None
    waiters: list[Reply[bool]] = field(default_factory=list)
    probe: HealthReport | None = None
    shown: ShownStatus = field(init=False)

    def __post_init__(self) -> None:
        self.key = VersionKey(self.version.version_id, 1)
        self.restarts = RestartBudget.for_config(self.version.serving)
        self.shown = ShownStatus(self.version)

    @property
    def settled(self) -> bool:
        """True when this version can no longer become READY."""
        return self.status is ModelStatus.STOPPED or (
            self.status is ModelStatus.FAILED and self.restart_timer is None and self.ref is None
        )


def _add_waiter(waiters: list[Reply[bool]], reply: Reply[bool]) -> None:
    """Keep `reply` until its version settles, dropping the waiters whose callers gave up (answered themselves)."""
    waiters[:] = [w for w in waiters if not w.done]
    waiters.append(reply)


class RegistryActor(ServingActor):
    """Owns the set of versions and supervises their actors (registry thread).

    Starts a `VersionActor` per registered version; on an unexpected crash it
    restarts the version up to `max_restarts` within `restart_window_s`, with
    exponential back-off, then leaves it FAILED with the error kept.
    """

    def __init__(
        self,
        *,
        invoker: ModelInvoker,
        clock: Clock,
        scheduler: Scheduler,
        cost: CostCalculator,
        sink: MetricsSink,
        tracker: ThreadTracker,
        router: pykka.ActorRef[Any],
    ) -> None:
        super().__init__()
        self._invoker = invoker
        self._clock = clock
        self._scheduler = scheduler
        self._cost = cost
        self._sink = sink
        self._tracker = tracker
        self._router = router
        self._deps: VersionDeps | None = None
        self._entries: dict[str, _Entry] = {}
        self._model_waiters: dict[str, list[Reply[bool]]] = {}
        self._shutdown: list[Reply[bool]] | None = None  # every stop() caller's reply, once shutting down

    def on_start(self) -> None:
        """Build the dependencies every version shares (registry thread)."""
        self._tracker.add_current()
        self._deps = VersionDeps(
            invoker=self._invoker,
            clock=self._clock,
            scheduler=self._scheduler,
            cost=self._cost,
            sink=self._sink,
            tracker=self._tracker,
            router=self._router,
            registry=self.actor_ref,
        )

    # --- commands ------------------------------------------------------------

    def _start(self, entry: _Entry) -> None:
        assert self._deps is not None
        entry.ref = VersionActor.start(version=entry.version, key=entry.key, deps=self._deps, shown=entry.shown)

    @handles(Register)
    def _on_register(self, m: Register) -> None:
        vid = m.version.version_id
        old = self._entries.get(vid)
        if self._shutdown is not None or (old is not None and old.status is not ModelStatus.STOPPED):
            m.reply.set(False)
            return
        entry = _Entry(version=m.version)
        entry.shown.show(ModelStatus.LOADING)
        m.version.last_error = None
        self._entries[vid] = entry
        self._start(entry)
        log.info("registered %s", vid, extra={"model": m.version.model_name, "version": vid})
        m.reply.set(True)

    @handles(Unload)
    def _on_unload(self, m: Unload) -> None:
        entry = self._entries.get(m.version_id)
        if entry is None or entry.status is ModelStatus.STOPPED:
            m.reply.set(False)
            return
        self._unload(entry)
        m.reply.set(True)

    def _unload(self, entry: _Entry) -> None:
        if entry.unloading:
            return
        entry.unloading = True
        v = entry.version
        log.info("unloading %s", v.version_id, extra={"model": v.model_name, "version": v.version_id})
        if entry.ref is not None:
            entry.shown.mark_unloading()
            if not safe_tell(self._router, Unroute(v, entry.key, entry.ref)):
                safe_tell(entry.ref, Drain())  # no router left to route around it: drain it directly
            return
        if entry.restart_timer is not None:
            entry.restart_timer.cancel()
            entry.restart_timer = None
        self._mark_stopped(entry)

    def _mark_stopped(self, entry: _Entry) -> None:
        """Stop a version whose actor is already gone (FAILED, or crashed awaiting restart)."""
        entry.shown.show(ModelStatus.STOPPED)
        event = StatusChanged(entry.key, ModelStatus.STOPPED)
        safe_tell(self._router, event)
        self._on_status(event)
        try:
            self._sink.status_changed(entry.version, ModelStatus.STOPPED, self._clock.monotonic())
        except Exception:
            log.exception("metrics sink failed on status change")

    @handles(Lookup)
    def _on_lookup(self, m: Lookup) -> None:
        entry = self._entries.get(m.version_id)
        m.reply.set(None if entry is None else (entry.version, entry.ref, entry.final_metrics))

    @handles(ListVersions)
    def _on_list(self, m: ListVersions) -> None:
        m.reply.set([e.version for e in self._entries.values()])

    @handles(WaitReady)
    def _on_wait_ready(self, m: WaitReady) -> None:
        entry = self._entries.get(m.target)
        if entry is not None:
            if entry.status in ROUTABLE:
                m.reply.set(True)
            elif entry.settled:
                m.reply.set(False)
            else:
                _add_waiter(entry.waiters, m.reply)
            return
        models = [e for e in self._entries.values() if e.version.model_name == m.target]
        if any(e.status in ROUTABLE for e in models):
            m.reply.set(True)
        elif not models or all(e.settled for e in models):
            m.reply.set(False)
        else:
            _add_waiter(self._model_waiters.setdefault(m.target, []), m.reply)

    @handles(HealthReport)
    def _on_health_report(self, m: HealthReport) -> None:
        entry = self._current(m.key)
        if entry is not None:
            entry.probe = m

    @handles(Health)
    def _on_health(self, m: Health) -> None:
        # Unloaded versions left on purpose; every other required version must be READY.
        kept = [e for e in self._entries.values() if not e.unloading and e.status is not ModelStatus.STOPPED]
        required = [e for e in kept if e.version.serving.required]
        ready = (
            self._shutdown is None
            and any(e.status in ROUTABLE for e in kept)
            and all(e.status in ROUTABLE for e in required)
        )
        m.reply.set(
            {
                "live": self._shutdown is None,
                "ready": ready,
                "versions": {vid: self._version_health(e) for vid, e in self._entries.items()},
            }
        )

    @staticmethod
    def _version_health(e: _Entry) -> dict[str, object]:
        probe = e.probe if e.status in ROUTABLE else None
        return {
            "model": e.version.model_name,
            "status": e.status.value,
            "ready": e.status in ROUTABLE,
            "required": e.version.serving.required,
            "generation": e.key.generation,
            "last_error": e.version.last_error,
            "healthy": None if probe is None else probe.healthy_replicas == probe.probed_replicas,
            "replicas_healthy": None if probe is None else probe.healthy_replicas,
            "replicas_probed": None if probe is None else probe.probed_replicas,
            "probe_error": None if probe is None else probe.error,
        }

    @handles(Shutdown)
    def _on_shutdown(self, m: Shutdown) -> None:
        if self._shutdown is None:
            self._shutdown = []
            for entry in list(self._entries.values()):
                if entry.status is not ModelStatus.STOPPED:
                    self._unload(entry)
        self._shutdown.append(m.reply)
        self._check_shutdown()

    def _check_shutdown(self) -> None:
        if self._shutdown is not None and all(e.ref is None for e in self._entries.values()):
            for reply in self._shutdown:
                reply.set(True)
            self._shutdown.clear()

    # --- events --------------------------------------------------------------

    def _current(self, key: VersionKey) -> _Entry | None:
        """The entry of `key`'s version if `key` is its current generation (news from older ones is dropped)."""
        entry = self._entries.get(key.version_id)
        return entry if entry is not None and entry.key == key else None

    @handles(StatusChanged)
    def _on_status(self, m: StatusChanged) -> None:
        entry = self._current(m.key)
        if entry is None:
            return
        entry.status = m.status
        if m.status in ROUTABLE:
            self._resolve(entry, True)
        elif m.status is ModelStatus.STOPPED or (m.status is ModelStatus.FAILED and entry.restart_timer is None):
            self._resolve(entry, False)

    def _resolve(self, entry: _Entry, ready: bool) -> None:
        for reply in entry.waiters:
            reply.set(ready)
        entry.waiters.clear()
        name = entry.version.model_name
        waiters = self._model_waiters.get(name)
        if not waiters:
            return
        models = [e for e in self._entries.values() if e.version.model_name == name]
        if ready or all(e.settled for e in models):
            for reply in waiters:
                reply.set(ready)
            del self._model_waiters[name]

    @handles(Ended)
    def _on_ended(self, m: Ended) -> None:
        entry = self._current(m.key)
        if entry is None:
            return
        entry.ref = None
        entry.final_metrics = m.metrics
        if entry.unloading and entry.status is not ModelStatus.STOPPED:
            # It ended on its own (a load that failed) before the drain reached it: unloaded all the same.
            self._mark_stopped(entry)
        elif entry.status is ModelStatus.FAILED:
            self._resolve(entry, False)
        self._check_shutdown()

    @handles(VersionCrashed)
    def _on_crashed(self, m: VersionCrashed) -> None:
        entry = self._current(m.key)
        if entry is None:
            return
        entry.ref = None
        entry.final_metrics = m.metrics
        v = entry.version
        extra = {"model": v.model_name, "version": v.version_id, "error": m.error}
        if entry.unloading or self._shutdown is not None:
            self._mark_stopped(entry)
            self._check_shutdown()
            return
        now = self._clock.monotonic()
        delay = entry.restarts.record(now)
        entry.shown.show(ModelStatus.FAILED)
        v.last_error = m.error
        if delay is not None:
            log.warning("version crashed; restarting in %.3fs", delay, extra=extra)
            ref = self.actor_ref
            entry.restart_timer = self._scheduler.call_later(
                delay, lambda: safe_tell(ref, RestartVersion(v.version_id))
            )
        else:
            failures = entry.restarts.failures
            log.error("version crashed %d times in %gs; giving up", failures, v.serving.restart_window_s, extra=extra)
        event = StatusChanged(entry.key, ModelStatus.FAILED, m.error)
        safe_tell(self._router, event)
        self._on_status(event)
        try:
            self._sink.status_changed(v, ModelStatus.FAILED, now)
        except Exception:
            log.exception("metrics sink failed on status change")

    @handles(RestartVersion)
    def _on_restart(self, m: RestartVersion) -> None:
        entry = self._entries.get(m.version_id)
        if entry is None or entry.restart_timer is None:
            return
        entry.restart_timer = None
        if entry.unloading or self._shutdown is not None:
            self._mark_stopped(entry)
            return
        entry.key = entry.key.next()
        entry.probe = None
        self._start(entry)
