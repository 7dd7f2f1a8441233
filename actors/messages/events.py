"""Events upward: version → router and registry, always `tell`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actorserve.actors.keys import VersionKey
    from actorserve.domain.entities import ModelMetrics
    from actorserve.domain.enums import ModelStatus

__all__ = ["Ended", "StatusChanged", "VersionCrashed", "VersionStats"]


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """Version → router, registry: the version entered `status`."""

    key: VersionKey
    status: ModelStatus
    error: str | None = None


@dataclass(frozen=True, slots=True)
class VersionStats:
    """Version → router: figures the routing policies use (every 20 ms or 64 answers at most)."""

    key: VersionKey
    latency_ewma_ms: float | None
    in_flight: int
    cost_per_request: float | None
    successes: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Ended:
    """Version → registry: the version actor is ending; `metrics` are its final figures."""

    key: VersionKey
    metrics: ModelMetrics


@dataclass(frozen=True, slots=True)
class VersionCrashed:
    """Version → registry: the version actor failed unexpectedly (it already answered what it held)."""

    key: VersionKey
    error: str
    metrics: ModelMetrics
