"""Registry conversations: register, unload, look up, wait, health, restart and shut down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    import pykka

    from actorserve.actors.reply import Reply
    from actorserve.domain.entities import ModelMetrics, ModelVersion

__all__ = ["Health", "ListVersions", "Lookup", "Register", "RestartVersion", "Shutdown", "Unload", "WaitReady"]


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
    reply: Reply[tuple[ModelVersion, pykka.ActorRef[Any] | None, ModelMetrics | None] | None]


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
