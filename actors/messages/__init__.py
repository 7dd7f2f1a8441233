"""Messages between actors: frozen dataclasses named as commands or facts, one module per conversation.

Requests carry their reply object; upward events are plain `tell`s.

- `requests`: the request path (caller → router → version → worker → version).
- `version`: what a version hears besides requests (its workers, timers, drain, metrics).
- `events`: version → router and registry.
- `routing`: router control.
- `registry`: registry conversations.
- `state`: the state actor (durable writes, statistics written behind).
"""

from __future__ import annotations

from typing import Any

import pykka

from actorserve.actors.messages.events import Ended, StatusChanged, VersionCrashed, VersionStats
from actorserve.actors.messages.registry import (
    Health,
    ListVersions,
    Lookup,
    Register,
    RestartVersion,
    Shutdown,
    Unload,
    WaitReady,
)
from actorserve.actors.messages.requests import Done, Infer, Route, RunBatch, Work
from actorserve.actors.messages.routing import SetRouting, Unroute, VersionAdded
from actorserve.actors.messages.state import (
    AskStore,
    Count,
    CountersRead,
    FlushState,
    Persist,
    Remember,
    StateStatus,
    StoreAnswer,
    SyncCounters,
    Write,
)
from actorserve.actors.messages.version import (
    CheckHealth,
    Drain,
    GetMetrics,
    HealthChecked,
    HealthReport,
    Loaded,
    LoadFailed,
    TimerFired,
    WorkerCrashed,
)

__all__ = [
    "AskStore",
    "CheckHealth",
    "Count",
    "CountersRead",
    "Done",
    "Drain",
    "Ended",
    "FlushState",
    "GetMetrics",
    "Health",
    "HealthChecked",
    "HealthReport",
    "Infer",
    "ListVersions",
    "LoadFailed",
    "Loaded",
    "Lookup",
    "Persist",
    "Register",
    "Remember",
    "RestartVersion",
    "Route",
    "RunBatch",
    "SetRouting",
    "Shutdown",
    "StateStatus",
    "StatusChanged",
    "StoreAnswer",
    "SyncCounters",
    "TimerFired",
    "Unload",
    "Unroute",
    "VersionAdded",
    "VersionCrashed",
    "VersionStats",
    "WaitReady",
    "Work",
    "WorkerCrashed",
    "Write",
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
