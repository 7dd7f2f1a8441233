"""State actor conversations: durable control-plane writes, statistics written behind, flushes, status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actorserve.actors.reply import Reply
    from actorserve.domain.state import CounterBatch, Document

__all__ = ["Count", "FlushState", "Persist", "StateStatus", "Write"]


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
