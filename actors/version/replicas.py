"""ReplicaPool: a version's worker replicas — generations, load attempts, crashes, idle set.

Owned by one `VersionActor` and used only on its thread; it starts worker
actors but never waits on them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actorserve.actors.messages import Work
from actorserve.actors.tracking import ThreadTracker
from actorserve.actors.worker import WorkerActor
from actorserve.domain.admission import RestartBudget
from actorserve.domain.entities import ModelVersion
from actorserve.domain.ports import Clock, CostCalculator, ModelInvoker

if TYPE_CHECKING:
    import pykka

__all__ = ["ReplicaPool"]


@dataclass(slots=True)
class _Slot:
    restarts: RestartBudget
    generation: int = 0
    ref: pykka.ActorRef[Any] | None = None
    loaded: bool = False
    batches: deque[list[Work]] = field(default_factory=deque)
    load_attempts: int = 0
    gave_up: bool = False


@dataclass(frozen=True, slots=True)
class WorkerFactory:
    """Everything a worker needs besides its index and generation."""

    version: ModelVersion
    invoker: ModelInvoker
    parent: pykka.ActorRef[Any]
    clock: Clock
    cost: CostCalculator
    tracker: ThreadTracker


class ReplicaPool:
    """The replica slots of one version.

    A slot's generation grows each time its worker is (re)started, so events
    from a previous worker are recognised and ignored. A slot holds up to
    `pipeline_depth` batches: the one its worker runs, and full ones waiting
    in the worker's inbox (answered by the version if their deadline passes
    first; the worker skips anything already answered).
    """

    def __init__(self, factory: WorkerFactory) -> None:
        c = factory.version.serving
        self._factory = factory
        self._slots = [
            _Slot(
                RestartBudget(max_restarts=c.max_restarts, window_s=c.restart_window_s, backoff_s=c.restart_backoff_s)
            )
            for _ in range(c.replicas)
        ]
        self.idle: list[int] = []
        """Loaded slots with nothing to do (read-only outside this class)."""
        self._depth = c.pipeline_depth

    def __len__(self) -> int:
        return len(self._slots)

    # --- worker lifecycle ----------------------------------------------------

    def start(self, index: int) -> None:
        """Start a fresh worker in slot `index`; it loads in its own thread."""
        slot = self._slots[index]
        slot.generation += 1
        slot.loaded = False
        slot.batches.clear()
        f = self._factory
        slot.ref = WorkerActor.start(
            index=index,
            generation=slot.generation,
            version=f.version,
            invoker=f.invoker,
            parent=f.parent,
            clock=f.clock,
            cost=f.cost,
            tracker=f.tracker,
        )

    def is_current(self, index: int, generation: int) -> bool:
        """True when the event comes from the slot's current worker."""
        return self._slots[index].generation == generation

    def loaded(self, index: int) -> None:
        """The slot's worker loaded; it becomes idle."""
        slot = self._slots[index]
        slot.loaded = True
        slot.load_attempts = 0
        self.idle.append(index)

    def load_failed(self, index: int) -> int:
        """The slot's worker failed to load (and stopped); returns the attempts so far."""
        slot = self._slots[index]
        slot.ref = None
        slot.loaded = False
        slot.load_attempts += 1
        return slot.load_attempts

    def give_up(self, index: int) -> None:
        """Stop retrying the slot's load."""
        self._slots[index].gave_up = True

    def hopeless(self, *, need_all: bool) -> bool:
        """True when the version can no longer become READY by loading."""
        if need_all:
            return any(s.gave_up for s in self._slots)
        return not any(s.loaded for s in self._slots) and all(s.gave_up for s in self._slots)

    def loaded_workers(self) -> list[tuple[int, pykka.ActorRef[Any]]]:
        """(index, worker) of every slot whose worker has loaded."""
        return [(i, s.ref) for i, s in enumerate(self._slots) if s.loaded and s.ref is not None]

    def retire(self, index: int) -> list[Work]:
        """Stop the slot's worker politely (it unloads in `on_stop`); returns the requests it held."""
        ref = self._slots[index].ref
        held = self.crashed(index)
        if ref is not None:
            ref.stop(block=False)
        return held

    def crashed(self, index: int) -> list[Work]:
        """The slot's worker died; returns the requests it held (now nobody's)."""
        slot = self._slots[index]
        batch = [w for b in slot.batches for w in b]
        slot.batches.clear()
        slot.ref = None
        slot.loaded = False
        if index in self.idle:
            self.idle.remove(index)
        return batch

    def record_crash(self, index: int, now: float) -> float | None:
        """Count a crash; the restart delay, or None when the restart budget is spent."""
        return self._slots[index].restarts.record(now)

    def crash_count(self, index: int) -> int:
        """Crashes of the slot within the restart window."""
        return self._slots[index].restarts.failures

    def stop_all(self) -> None:
        """Ask every worker to stop (it unloads in `on_stop`); forget them."""
        for slot in self._slots:
            if slot.ref is not None:
                slot.ref.stop(block=False)
                slot.ref = None
            slot.loaded = False
        self.idle.clear()

    # --- work ----------------------------------------------------------------

    @property
    def loaded_count(self) -> int:
        """Slots with a loaded model."""
        return sum(s.loaded for s in self._slots)

    @property
    def can_pipeline(self) -> bool:
        """True when a busy worker can take one more (full) batch into its inbox."""
        depth = self._depth
        return any(slot.loaded and 0 < len(slot.batches) < depth for slot in self._slots)

    def assign(self, batch: list[Work]) -> pykka.ActorRef[Any] | None:
        """Give `batch` to an idle worker, else queue it at the least busy one; its ref."""
        if self.idle:
            index = self.idle.pop()
        else:
            index = min(
                (i for i, s in enumerate(self._slots) if s.loaded and len(s.batches) < self._depth),
                key=lambda i: len(self._slots[i].batches),
            )
        slot = self._slots[index]
        slot.batches.append(batch)
        return slot.ref

    def unassign(self, ref: pykka.ActorRef[Any]) -> None:
        """The send to `ref` failed: the worker is gone."""
        for index, slot in enumerate(self._slots):
            if slot.ref is ref:
                slot.batches.clear()
                slot.loaded = False
                slot.ref = None
                if index in self.idle:
                    self.idle.remove(index)

    def release(self, index: int, generation: int) -> list[Work]:
        """The slot's worker finished its oldest batch; returns the requests it held."""
        slot = self._slots[index]
        if slot.generation != generation or not slot.batches:
            return []
        batch = slot.batches.popleft()
        if slot.loaded and not slot.batches:
            self.idle.append(index)
        return batch

    def running(self) -> Iterator[Work]:
        """Every request handed to a worker (running, or waiting in its inbox)."""
        for slot in self._slots:
            for batch in slot.batches:
                yield from batch
