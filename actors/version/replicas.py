"""The version shell's worker actors: started, stopped and told by the core's replica keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actorserve.actors.keys import ReplicaKey
from actorserve.actors.messages import CheckHealth, RunBatch, Work, safe_tell
from actorserve.actors.tracking import ThreadTracker
from actorserve.actors.version.worker import WorkerActor
from actorserve.domain.entities import ModelVersion
from actorserve.domain.ports import Clock, CostCalculator, ModelInvoker

if TYPE_CHECKING:
    import pykka

__all__ = ["WorkerFactory", "Workers"]


@dataclass(frozen=True, slots=True)
class WorkerFactory:
    """Everything a worker needs besides its key."""

    version: ModelVersion
    invoker: ModelInvoker
    parent: pykka.ActorRef[Any]
    clock: Clock
    cost: CostCalculator
    tracker: ThreadTracker


class Workers:
    """The live worker actor of each replica slot (the version actor's thread only); never waits on them."""

    def __init__(self, factory: WorkerFactory) -> None:
        self._factory = factory
        self._refs: dict[int, tuple[ReplicaKey, pykka.ActorRef[Any]]] = {}

    def start(self, key: ReplicaKey) -> None:
        """Start the worker `key` names; it loads in its own thread."""
        f = self._factory
        ref = WorkerActor.start(
            replica=key,
            version=f.version,
            invoker=f.invoker,
            parent=f.parent,
            clock=f.clock,
            cost=f.cost,
            tracker=f.tracker,
        )
        self._refs[key.index] = (key, ref)

    def stop(self, key: ReplicaKey) -> None:
        """Ask the worker `key` names to stop (it unloads in `on_stop`)."""
        entry = self._refs.get(key.index)
        if entry is not None and entry[0] == key:
            del self._refs[key.index]
            entry[1].stop(block=False)

    def send(self, index: int, batch: tuple[Work, ...]) -> bool:
        """Hand `batch` to slot `index`'s worker; False when it is gone."""
        entry = self._refs.get(index)
        return entry is not None and safe_tell(entry[1], RunBatch(batch))

    def probe(self, key: ReplicaKey) -> None:
        """Ask the worker `key` names for a health probe."""
        entry = self._refs.get(key.index)
        if entry is not None and entry[0] == key:
            safe_tell(entry[1], CheckHealth())
