"""StateActor: the only writer to the state store (DESIGN §7).

Control-plane writes (`Persist`) are applied at once and answered when
durable, so the host call that sent them returns only then. Statistics
(`Count`) are merged into a bounded `WriteBehind` buffer and written every
`flush_interval_s` and at stop (`FlushState`). A store that fails leaves
the buffer in place (bounded; drops counted), marks the state unhealthy
with its error, and the next flush tries again. Nothing on the request path
waits for this actor: experiments only `tell` it.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict

from actorserve.actors.base import ServingActor, describe_exception, handles
from actorserve.actors.messages import (
    AskStore,
    Count,
    CountersRead,
    FlushState,
    Persist,
    Remember,
    StateStatus,
    StoreAnswer,
    SyncCounters,
    TimerFired,
    safe_tell,
)
from actorserve.actors.scheduler import Scheduler
from actorserve.actors.sinks import SinkFanout
from actorserve.actors.timers import Timers
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain.errors import ConfigError
from actorserve.domain.ports import Clock, StateStore
from actorserve.domain.state import Counters, Document, Number
from actorserve.domain.write_behind import WriteBehind

__all__ = ["FLUSH_SLOT", "StateActor"]

log = logging.getLogger(__name__)

FLUSH_SLOT = "state-flush"
"""The timer slot of the periodic flush."""


class StateActor(ServingActor):
    """Owns the runtime's `StateStore` connection; runs on its own thread.

    Args:
        store: the open store (closed by the runtime after this actor stopped).
        backend: the store's scheme, for health and metrics (`sqlite`, `redis`, ...).
        clock: the runtime's clock.
        scheduler: the runtime's timer thread.
        tracker: joins this actor's thread at stop.
        sink: receives `state_flushed` events (Prometheus' state metrics).
        flush_interval_s: how often buffered statistics are written.
        max_pending_targets: the most distinct counter sets buffered while the store is down.
    """

    def __init__(
        self,
        *,
        store: StateStore,
        backend: str,
        clock: Clock,
        scheduler: Scheduler,
        tracker: ThreadTracker,
        sink: SinkFanout,
        flush_interval_s: float,
        max_pending_targets: int = 100_000,
    ) -> None:
        super().__init__()
        self._store = store
        self._backend = backend
        self._clock = clock
        self._scheduler = scheduler
        self._tracker = tracker
        self._sink = sink
        self._interval = flush_interval_s
        self._buffer = WriteBehind(max_pending_targets)
        self._in_doubt: tuple[str, dict[tuple[str, str], dict[str, Number]], int] | None = None
        """A batch sent and not known to be applied: its id, the batch, how many events it holds."""
        self._remembered: OrderedDict[tuple[str, str], tuple[Document, int]] = OrderedDict()
        self._max_remembered = max_pending_targets
        self._healthy = True
        self._last_error: str | None = None
        self._errors = 0
        self._flushes = 0
        self._timers: Timers | None = None

    def on_start(self) -> None:
        """Arm the periodic flush (state actor thread)."""
        self._tracker.add_current()
        self._timers = Timers(self._scheduler, self.actor_ref)
        self._arm()

    def on_stop(self) -> None:
        """Cancel the flush timer; the runtime sent `FlushState` before stopping us."""
        if self._timers is not None:
            self._timers.cancel_all()

    def _arm(self) -> None:
        if self._timers is not None:
            self._timers.apply([(FLUSH_SLOT, self._clock.monotonic() + self._interval)])

    def _failed(self, what: str, exc: BaseException) -> str:
        error = f"{what}: {describe_exception(exc)}"
        if self._healthy or error != self._last_error:
            log.warning("state store %s: %s", self._backend, error)
        self._healthy = False
        self._last_error = error
        self._errors += 1
        return error

    # --- handlers ------------------------------------------------------------

    @handles(Persist)
    def _on_persist(self, m: Persist) -> None:
        try:
            if m.counts:  # first: a stop's run count lands before its tombstone (else a new start rejoins the old run)
                self._store.increment(m.counts)
            for write in m.writes:
                if write.doc is None:
                    self._store.delete_document(write.kind, write.key)
                else:
                    self._store.put_document(write.kind, write.key, write.doc)
        except Exception as exc:  # noqa: BLE001 - the caller gets the store's error as its answer
            m.reply.set(self._failed("write", exc))
            self._emit(0.0, ok=False)
            return
        if not self._healthy and not self._pending():
            self._healthy, self._last_error = True, None
        m.reply.set(None)

    @handles(Remember)
    def _on_remember(self, m: Remember) -> None:
        remembered = self._remembered
        for key, doc in m.entries:
            remembered[(m.kind, key)] = (doc, m.ttl_ms)
        excess = len(remembered) - self._max_remembered
        for _ in range(max(excess, 0)):
            remembered.popitem(last=False)  # the oldest go first; counted like any dropped event
        if excess > 0:
            self._buffer.drop(excess)

    @handles(Count)
    def _on_count(self, m: Count) -> None:
        self._buffer.add(m.batch, m.events)

    @handles(SyncCounters)
    def _on_sync(self, m: SyncCounters) -> None:
        if m.batch:
            self._buffer.add(m.batch)
        totals: dict[tuple[str, str], Counters] | None = None
        if self._flush():
            try:
                totals = {(kind, key): self._store.read_counters(kind, key) for kind, key in m.reads}
            except Exception as exc:  # noqa: BLE001 - the experiment keeps its own view until the next sync
                self._failed("read", exc)
                totals = None
        safe_tell(m.reply_to, CountersRead(m.seq, totals))

    @handles(AskStore)
    def _on_ask(self, m: AskStore) -> None:
        try:
            answer = StoreAnswer(m.tag, m.query(self._store))
        except Exception as exc:  # noqa: BLE001 - the asker gets the error as its answer
            answer = StoreAnswer(m.tag, None, self._failed(m.tag, exc))
        safe_tell(m.reply_to, answer)

    @handles(TimerFired)
    def _on_timer(self, m: TimerFired) -> None:
        if m.name == FLUSH_SLOT:
            self._flush()
            self._arm()

    @handles(FlushState)
    def _on_flush(self, m: FlushState) -> None:
        m.reply.set(self._flush())

    @handles(StateStatus)
    def _on_status(self, m: StateStatus) -> None:
        m.reply.set(
            {
                "backend": self._backend,
                "url": self._store.url,
                "namespace": self._store.namespace,
                "healthy": self._healthy,
                "pending": self._pending(),
                "dropped": self._buffer.dropped,
                "errors": self._errors,
                "flushes": self._flushes,
                "last_error": self._last_error,
            }
        )

    # --- flushing --------------------------------------------------------------

    def _flush(self) -> bool:
        buffer, remembered = self._buffer, self._remembered
        if not buffer.pending and not remembered and self._in_doubt is None:
            return True
        started = self._clock.monotonic()
        try:
            self._write_counts()
            if remembered:
                self._store.put_documents([(kind, key, doc, ttl) for (kind, key), (doc, ttl) in remembered.items()])
                remembered.clear()
        except ConfigError as exc:  # the store refuses what is in it: retrying would block every later write
            if self._in_doubt is not None:
                events, what = self._in_doubt[2], "a statistics batch"
                self._in_doubt = None
            else:
                events, what = len(remembered), "the remembered documents"
                remembered.clear()
            log.error("state store %s: %s was refused and dropped: %s", self._backend, what, exc)
            self._buffer.drop(events)
            self._failed("flush", exc)
            self._emit(self._clock.monotonic() - started, ok=False)
            return False
        except Exception as exc:  # noqa: BLE001 - kept for the next flush; serving goes on
            self._failed("flush", exc)
            self._emit(self._clock.monotonic() - started, ok=False)
            return False
        self._flushes += 1
        if not self._healthy:
            log.info("state store %s: back; buffered statistics written", self._backend)
        self._healthy, self._last_error = True, None
        self._emit(self._clock.monotonic() - started, ok=True)
        return True

    def _write_counts(self) -> None:
        """The batch in doubt first (under its id, so it counts once), then what was buffered since."""
        if self._in_doubt is not None:
            batch_id, batch, _ = self._in_doubt
            self._store.increment(batch, batch_id=batch_id)
            self._in_doubt = None
        buffer = self._buffer
        if buffer.pending:
            # Taken out of the buffer before the call: if it fails, it is retried as it is, under its id.
            self._in_doubt = (uuid.uuid4().hex, buffer.batch(), buffer.pending)
            buffer.clear()
            batch_id, batch, _ = self._in_doubt
            self._store.increment(batch, batch_id=batch_id)
            self._in_doubt = None

    def _emit(self, duration_s: float, *, ok: bool) -> None:
        self._sink.state_flushed(self._backend, duration_s, self._pending(), ok)

    def _pending(self) -> int:
        in_doubt = 0 if self._in_doubt is None else self._in_doubt[2]
        return self._buffer.pending + in_doubt + len(self._remembered)
