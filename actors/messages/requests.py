"""The request path: caller → router → version → worker → version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actorserve.actors.keys import ReplicaKey
    from actorserve.actors.reply import Reply
    from actorserve.domain.entities import ModelRequest, ModelResponse
    from actorserve.domain.metrics import Outcome

__all__ = ["Done", "Infer", "Route", "RunBatch", "Work"]


@dataclass(frozen=True, slots=True)
class Route:
    """Caller → router: serve `request` on a version of `request.model_id`."""

    request: ModelRequest
    reply: Reply[ModelResponse]
    started_at: float
    timeout_ms: float | None
    version_id: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Infer:
    """Router or experiment → version: admit and run one request."""

    request: ModelRequest
    reply: Reply[ModelResponse]
    started_at: float
    timeout_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Work:
    """One admitted request with its resolved deadline (monotonic seconds)."""

    request: ModelRequest
    reply: Reply[ModelResponse]
    started_at: float
    deadline: float
    enqueued_at: float


@dataclass(frozen=True, slots=True)
class RunBatch:
    """Version → worker: run these requests as one batch."""

    items: tuple[Work, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """Worker → version: the batch finished; `outcomes` are the answers the worker gave.

    `ran` requests went to the invoker (those not answered before it started)
    and the call took `batch_s` seconds: what adaptive batching fits its cost on.
    """

    replica: ReplicaKey
    outcomes: tuple[Outcome, ...]
    ran: int = 0
    batch_s: float = 0.0
