"""Messages between actors: frozen dataclasses named as commands or facts.

Requests carry their reply object; upward events are plain `tell`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka

from actorserve.actors.base import UnexpectedMessageError

if TYPE_CHECKING:
    from actorserve.actors.keys import ReplicaKey
    from actorserve.actors.reply import Reply
    from actorserve.domain.entities import ModelMetrics, ModelRequest, ModelResponse, ModelVersion
    from actorserve.domain.enums import ModelStatus
    from actorserve.domain.metrics import Outcome
    from actorserve.domain.routing import RoutingRule

__all__ = [
    "CheckHealth",
    "Done",
    "Drain",
    "Ended",
    "GetMetrics",
    "Health",
    "HealthChecked",
    "HealthReport",
    "Infer",
    "ListVersions",
    "LoadFailed",
    "Loaded",
    "Lookup",
    "Register",
    "RestartVersion",
    "Route",
    "RunBatch",
    "SetRouting",
    "Shutdown",
    "StatusChanged",
    "TimerFired",
    "Unload",
    "Unroute",
    "UnexpectedMessageError",
    "VersionAdded",
    "VersionCrashed",
    "VersionStats",
    "WaitReady",
    "Work",
    "WorkerCrashed",
    "safe_tell",
]

ActorRef = pykka.ActorRef[Any]


def safe_tell(ref: ActorRef | None, message: object) -> bool:
    """Tell `ref` unless it is gone; False when the actor is dead or missing."""
    if ref is None:
        return False
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return False
    return True


# --- request path -------------------------------------------------------------


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
    """Worker → version: the batch finished; `outcomes` are the answers the worker gave."""

    replica: ReplicaKey
    outcomes: tuple[Outcome, ...]


# --- worker lifecycle ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loaded:
    """Worker → version: the replica loaded its model."""

    replica: ReplicaKey
    load_s: float


@dataclass(frozen=True, slots=True)
class LoadFailed:
    """Worker → version: loading failed (the worker stops itself)."""

    replica: ReplicaKey
    error: str


@dataclass(frozen=True, slots=True)
class WorkerCrashed:
    """Worker → version: the worker actor failed unexpectedly."""

    replica: ReplicaKey
    error: str


@dataclass(frozen=True, slots=True)
class CheckHealth:
    """Version → worker: run the invoker's health probe on your instance."""


@dataclass(frozen=True, slots=True)
class HealthChecked:
    """Worker → version: the probe's answer (`error` says why it failed)."""

    replica: ReplicaKey
    healthy: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Version → registry: how many loaded replicas passed their last probe."""

    version_id: str
    generation: int
    healthy_replicas: int
    probed_replicas: int
    error: str | None


@dataclass(frozen=True, slots=True)
class TimerFired:
    """Timer → actor: the timer in slot `name` is due (see `actors.version.core` for the slots)."""

    name: str


@dataclass(frozen=True, slots=True)
class Drain:
    """Router → version: stop taking traffic, finish what is held, then stop."""


@dataclass(frozen=True, slots=True)
class GetMetrics:
    """Anyone → version: reply with a `ModelMetrics` snapshot."""

    reply: Reply[ModelMetrics]


# --- events upward ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """Version → router, registry: the version entered `status`."""

    version_id: str
    generation: int
    status: ModelStatus
    error: str | None = None


@dataclass(frozen=True, slots=True)
class VersionStats:
    """Version → router: figures the routing policies use (every 20 ms or 64 answers at most)."""

    version_id: str
    generation: int
    latency_ewma_ms: float | None
    in_flight: int
    cost_per_request: float | None
    successes: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Ended:
    """Version → registry: the version actor is ending; `metrics` are its final figures."""

    version_id: str
    generation: int
    metrics: ModelMetrics


@dataclass(frozen=True, slots=True)
class VersionCrashed:
    """Version → registry: the version actor failed unexpectedly (it already answered what it held)."""

    version_id: str
    generation: int
    error: str
    metrics: ModelMetrics


# --- router control -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionAdded:
    """Version → router, first thing in `on_start`: this generation of the version exists."""

    version: ModelVersion
    generation: int
    ref: ActorRef


@dataclass(frozen=True, slots=True)
class Unroute:
    """Registry → router: route nothing more to this generation, then tell it `Drain`."""

    version: ModelVersion
    generation: int
    ref: ActorRef


@dataclass(frozen=True, slots=True)
class SetRouting:
    """Runtime → router: replace a model's routing rule (None: newest READY)."""

    model_name: str
    rule: RoutingRule | None
    reply: Reply[bool]


# --- registry -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    """Runtime → registry: start a version; replies False for a live duplicate id."""

    version: ModelVersion
    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class Unload:
    """Runtime → registry: drain and stop a version; replies False if unknown."""

    version_id: str
    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class Lookup:
    """Runtime → registry: reply with (version, live ref or None, final metrics or None)."""

    version_id: str
    reply: Reply[tuple[ModelVersion, ActorRef | None, ModelMetrics | None] | None]


@dataclass(frozen=True, slots=True)
class ListVersions:
    """Runtime → registry: reply with every known version."""

    reply: Reply[list[ModelVersion]]


@dataclass(frozen=True, slots=True)
class WaitReady:
    """Runtime → registry: reply True once READY, False once it can no longer be.

    `target` is a version id or, failing that, a model name (any of its versions).
    """

    target: str
    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class Health:
    """Runtime → registry: reply with a health report."""

    reply: Reply[dict[str, object]]


@dataclass(frozen=True, slots=True)
class RestartVersion:
    """Timer → registry: start the next generation of a crashed version."""

    version_id: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Runtime → registry: drain everything; reply once every version actor ended."""

    reply: Reply[bool]
