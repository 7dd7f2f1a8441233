"""What a version hears besides requests: its workers' lifecycle and health, its timers, drain and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actorserve.actors.keys import ReplicaKey, VersionKey
    from actorserve.actors.reply import Reply
    from actorserve.domain.entities import ModelMetrics

__all__ = [
    "CheckHealth",
    "Drain",
    "GetMetrics",
    "HealthChecked",
    "HealthReport",
    "LoadFailed",
    "Loaded",
    "TimerFired",
    "WorkerCrashed",
]


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

    key: VersionKey
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
