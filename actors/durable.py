"""Durability: the runtime's side of the state store (DESIGN §7).

Opens the store and starts the `StateActor` (its only writer), sends each
control-plane write and waits, on the calling host thread and bounded, until
it is durable; reads records back for the restore at start; reports
`health()["state"]`; flushes and stops at `stop()`. Without a store
(`state=None`) every call is a no-op and the runtime keeps today's
memory-only behaviour.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import pykka

from actorserve.actors.messages import FlushState, Persist, StateStatus, Write
from actorserve.actors.plugins import open_state_store
from actorserve.actors.reply import SyncReply
from actorserve.actors.router import BANDIT_EVIDENCE, posteriors_from
from actorserve.actors.scheduler import Scheduler
from actorserve.actors.sinks import SinkFanout
from actorserve.actors.state import StateActor
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain.config import MAX_WAIT_S
from actorserve.domain.entities import ModelVersion
from actorserve.domain.errors import ConfigError, StateError
from actorserve.domain.ports import Clock, StateStore
from actorserve.domain.records import ROUTING, VERSION, routing_from_record, version_from_record
from actorserve.domain.routing import RoutingRule
from actorserve.domain.state import CounterBatch, StoredDocument, check_name

__all__ = ["Durability"]

log = logging.getLogger(__name__)


def _backend_of(store: StateStore) -> str:
    scheme, sep, _ = store.url.partition("://")
    return scheme if sep else type(store).__name__


class Durability:
    """What the runtime keeps in its state store, and how. Thread-safe.

    Args:
        state: None (memory only), an open `StateStore`, or a store URL.
        namespace: the store's namespace (ignored for an open store, which has its own).
        required: with a URL that cannot be opened, raise (True) or go on memory-only with a warning.
        flush_interval_s: how often statistics are written behind.
        clock, scheduler, tracker, sink: the runtime's.
        call_timeout_s: how long a durable write may take before the call fails.

    Raises:
        ConfigError: a bad `state`, `namespace` or `flush_interval_s`, named.
        StateError: the store cannot be opened and `required` is True.
    """

    def __init__(
        self,
        state: StateStore | str | None,
        *,
        namespace: str,
        required: bool,
        flush_interval_s: float,
        clock: Clock,
        scheduler: Scheduler,
        tracker: ThreadTracker,
        sink: SinkFanout,
        call_timeout_s: float,
    ) -> None:
        check_name(namespace, field="state_namespace")
        if (
            not isinstance(flush_interval_s, int | float)
            or isinstance(flush_interval_s, bool)
            or not math.isfinite(flush_interval_s)
            or not 0 < flush_interval_s <= MAX_WAIT_S
        ):
            msg = f"flush_interval_s: must be a number of seconds > 0 and <= {MAX_WAIT_S:g} (got {flush_interval_s!r})"
            raise ConfigError(msg, field="flush_interval_s")
        self._timeout = call_timeout_s
        self.scheduler = scheduler
        self.flush_interval_s = float(flush_interval_s)
        self._skipped: list[dict[str, str]] = []
        self._note: str | None = None
        self.store: StateStore | None = None
        self._actor: pykka.ActorRef[Any] | None = None
        if state is None:
            return
        if isinstance(state, str):
            try:
                self.store = open_state_store(state, namespace=namespace)
            except StateError as exc:
                if required:
                    raise
                log.warning("state store unavailable, serving from memory only: %s", exc)
                self._note = f"memory only: {exc}"
                return
        elif all(hasattr(state, name) for name in ("put_document", "increment", "list_documents", "close")):
            self.store = state
        else:
            msg = f"state: must be None, a store URL or a StateStore (got {type(state).__name__})"
            raise ConfigError(msg, field="state")
        self.backend = _backend_of(self.store)
        self._actor = StateActor.start(
            store=self.store,
            backend=self.backend,
            clock=clock,
            scheduler=scheduler,
            tracker=tracker,
            sink=sink,
            flush_interval_s=float(flush_interval_s),
        )

    @property
    def durable(self) -> bool:
        """True when a store is attached."""
        return self._actor is not None

    @property
    def actor(self) -> pykka.ActorRef[Any] | None:
        """The state actor, for experiments that write statistics behind (None: memory only)."""
        return self._actor

    def persist(self, *writes: Write, what: str, counts: CounterBatch | None = None) -> None:
        """Apply `writes` through the state actor and wait until they are durable (no-op without a store).

        Raises:
            StateError: the store refused or did not answer within the call timeout.
        """
        actor = self._actor
        if actor is None or self.store is None:
            return
        reply: SyncReply[str | None] = SyncReply()
        try:
            actor.tell(Persist(writes, reply, counts))
        except pykka.ActorDeadError:
            raise StateError(f"{self.store.url}: {what}: the state actor is stopped", url=self.store.url) from None
        if not reply.wait(self._timeout):
            msg = f"{self.store.url}: {what}: not durable within {self._timeout:g}s"
            raise StateError(msg, url=self.store.url)
        error = reply.value()
        if error is not None:
            raise StateError(f"{self.store.url}: {what}: {error}", url=self.store.url)

    def records(self, kind: str) -> list[StoredDocument]:
        """Every stored record and tombstone of `kind` (none without a store).

        Raises:
            StateError: the store cannot be read.
        """
        return [] if self.store is None else self.store.list_documents(kind)

    def restore(
        self,
        register: Callable[[ModelVersion], bool],
        route: Callable[[str, RoutingRule | None, Mapping[str, tuple[float, float]] | None], None],
    ) -> None:
        """Bring back what the store holds: versions (they load again), then routing rules (with bandit evidence).

        Tombstones stay gone. An entry that cannot be restored (a bad record,
        an unknown backend, a missing extra) is skipped with its reason; the
        rest restores.

        Raises:
            StateError: the store cannot be read.
        """
        restored = 0
        for entry in self.records(VERSION):
            if entry.doc is None:
                continue
            try:
                if register(version_from_record(entry.doc)):
                    restored += 1
            except ConfigError as exc:
                self.skip(f"version {entry.key}", str(exc))
        for entry in self.records(ROUTING):
            if entry.doc is None:
                continue
            try:
                rule = routing_from_record(entry.doc)
                evidence = self.store.read_counters(BANDIT_EVIDENCE, entry.key) if self.store is not None else {}
                route(entry.key, rule, posteriors_from(evidence) if evidence else None)
            except ConfigError as exc:
                self.skip(f"routing {entry.key}", str(exc))
        if restored:
            log.info("restored %d versions from %s", restored, self.store.url if self.store else "memory")

    def skip(self, what: str, reason: str) -> None:
        """Note an entry the restore could not bring back (listed in `health()["state"]["skipped"]`)."""
        log.warning("state restore skipped %s: %s", what, reason)
        self._skipped.append({"entry": what, "reason": reason})

    def status(self) -> dict[str, object] | None:
        """`health()["state"]`: backend, url, namespace, healthy, pending, dropped, errors, last_error, skipped."""
        if self._actor is None:
            return None if self._note is None else {"backend": "memory", "healthy": False, "last_error": self._note}
        reply: SyncReply[dict[str, object]] = SyncReply()
        try:
            self._actor.tell(StateStatus(reply))
        except pykka.ActorDeadError:
            return None
        if not reply.wait(self._timeout):
            return {"backend": self.backend, "healthy": False, "last_error": "the state actor did not answer"}
        return {**reply.value(), "skipped": list(self._skipped)}

    def close(self, budget_s: float) -> None:
        """Write what is buffered, stop the state actor, close the store (the runtime's last step)."""
        actor, store = self._actor, self.store
        if actor is None or store is None:
            return
        reply: SyncReply[bool] = SyncReply()
        try:
            actor.tell(FlushState(reply))
            if not reply.wait(budget_s) or not reply.value():
                log.warning("state store %s: statistics not written at stop", store.url)
            actor.stop(block=True, timeout=budget_s)
        except (pykka.ActorDeadError, pykka.Timeout):
            pass
        try:
            store.close()
        except Exception as exc:  # noqa: BLE001 - shutdown goes on
            log.warning("state store close failed: %s", exc)
