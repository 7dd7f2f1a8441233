"""Router control: versions joining and leaving a model, and routing rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    import pykka

    from actorserve.actors.keys import VersionKey
    from actorserve.actors.reply import Reply
    from actorserve.domain.entities import ModelVersion
    from actorserve.domain.routing import RoutingRule

__all__ = ["SetRouting", "Unroute", "VersionAdded"]


@dataclass(frozen=True, slots=True)
class VersionAdded:
    """Version → router, first thing in `on_start`: this generation of the version exists."""

    version: ModelVersion
    key: VersionKey
    ref: pykka.ActorRef[Any]


@dataclass(frozen=True, slots=True)
class Unroute:
    """Registry → router: route nothing more to this generation, then tell it `Drain`."""

    version: ModelVersion
    key: VersionKey
    ref: pykka.ActorRef[Any]


@dataclass(frozen=True, slots=True)
class SetRouting:
    """Runtime → router: replace a model's routing rule (None: newest READY)."""

    model_name: str
    rule: RoutingRule | None
    reply: Reply[bool]
    posteriors: Mapping[str, tuple[float, float]] | None = None
    """For INTELLIGENT: evidence (reward, shortfall) per version kept from before (a restore)."""
