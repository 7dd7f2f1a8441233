"""State actor conversations: durable control-plane writes, statistics written behind, flushes, status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    import pykka

    from actorserve.actors.reply import Reply
    from actorserve.domain.ports import StateStore
    from actorserve.domain.state import CounterBatch, Counters, Document

__all__ = [
    "AskStore",
    "Count",
    "CountersRead",
    "FlushState",
    "Persist",
    "Remember",
    "StateStatus",
    "StoreAnswer",
    "SyncCounters",
    "Write",
]


@dataclass(frozen=True, slots=True)
class Write:
    """One control-plane write: put `doc` under `(kind, key)`, or delete it (leaving a tombstone) when None."""

    kind: str
    key: str
    doc: Document | None


@dataclass(frozen=True, slots=True)
class Persist:
    """Host → state actor: apply `writes` in order; the reply is None once durable, else the store's error."""

    writes: tuple[Write, ...]
    reply: Reply[str | None]
    counts: CounterBatch | None = None
    """Counter increments applied just before the writes, as durably (not written behind)."""


@dataclass(frozen=True, slots=True)
class Count:
    """Experiment → state actor: add these statistics increments (written behind, at the next flush)."""

    batch: CounterBatch
    events: int = 1


@dataclass(frozen=True, slots=True)
class FlushState:
    """Host → state actor (at stop): write every buffered increment now; the reply says whether it worked."""

    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class StateStatus:
    """Host → state actor: reply with `health()["state"]`'s figures."""

    reply: Reply[dict[str, object]]


@dataclass(frozen=True, slots=True)
class SyncCounters:
    """Experiment → state actor: add `batch`, write everything buffered, then tell `reply_to` the totals of `reads`."""

    batch: CounterBatch
    seq: int
    reads: tuple[tuple[str, str], ...]
    reply_to: pykka.ActorRef[Any]


@dataclass(frozen=True, slots=True)
class CountersRead:
    """State actor → experiment: every writer's totals once sync `seq` was written (None: the store failed)."""

    seq: int
    totals: Mapping[tuple[str, str], Counters] | None


@dataclass(frozen=True, slots=True)
class AskStore:
    """Experiment → state actor: run `query` on the store (its thread) and tell `reply_to` a `StoreAnswer`.

    For the few reads and leases an experiment needs while it runs (a canary's
    lease and step), so it never waits on the store itself.
    """

    query: Callable[[StateStore], object]
    tag: str
    reply_to: pykka.ActorRef[Any] | None
    """None: nobody waits for the answer (a lease released on stop)."""


@dataclass(frozen=True, slots=True)
class StoreAnswer:
    """State actor → experiment: what `AskStore.query` returned, or the error it raised."""

    tag: str
    value: object
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Remember:
    """Experiment → state actor: keep each `(key, doc)` of `entries` under `kind` for `ttl_ms` (written behind).

    An A/B test remembers which arm served each request this way (a batch
    per sync, not a message per request), so an outcome reported later,
    after a restart or to another process, still counts.
    """

    kind: str
    entries: tuple[tuple[str, Document], ...]
    ttl_ms: int
