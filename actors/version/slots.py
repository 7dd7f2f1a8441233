"""The replica slots of one version: which worker is current, loaded, idle, and what it holds.

Pure bookkeeping for `VersionCore`: no actors, no clock. The version's shell
starts and stops the workers the core asks for; a slot only records what
was decided and what the workers reported.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from actorserve.actors.keys import ReplicaKey, VersionKey
from actorserve.actors.messages import Work
from actorserve.domain.config import ServingConfig
from actorserve.domain.restarts import RestartBudget

__all__ = ["ReplicaSlots"]


@dataclass(slots=True)
class _Slot:
    restarts: RestartBudget
    key: ReplicaKey | None = None
    """The current worker (None: no worker running in this slot)."""
    generation: int = 0
    loaded: bool = False
    batches: deque[list[Work]] = field(default_factory=deque)
    load_attempts: int = 0
    gave_up: bool = False


class ReplicaSlots:
    """A version's `replicas` slots; each holds up to `pipeline_depth` batches.

    A slot holds the batch its worker runs and full ones waiting in the
    worker's inbox (answered by the version if their deadline passes first;
    the worker skips anything already answered).
    """

    def __init__(self, version: VersionKey, config: ServingConfig) -> None:
        self._version = version
        self._slots = [_Slot(RestartBudget.for_config(config)) for _ in range(config.replicas)]
        self._depth = config.pipeline_depth
        self.idle: list[int] = []
        """Loaded slots with nothing to do (read-only outside this class)."""

    def __len__(self) -> int:
        return len(self._slots)

    # --- workers -------------------------------------------------------------

    def start(self, index: int) -> ReplicaKey:
        """A fresh worker for slot `index`: its key (the shell starts it)."""
        slot = self._slots[index]
        slot.generation += 1
        slot.key = ReplicaKey(self._version, index, slot.generation)
        slot.loaded = False
        slot.batches.clear()
        return slot.key

    def has_worker(self, index: int) -> bool:
        """True while slot `index` has a worker started and not known gone."""
        return self._slots[index].key is not None

    def key_of(self, index: int) -> ReplicaKey | None:
        """The key of slot `index`'s current worker, if it has one."""
        return self._slots[index].key

    def current(self, key: ReplicaKey) -> bool:
        """True when an event comes from its slot's current worker."""
        index = key.index
        if not 0 <= index < len(self._slots):
            return False
        mine = self._slots[index].key
        return mine is key or mine == key

    def loaded(self, index: int) -> None:
        """The slot's worker loaded; it becomes idle."""
        slot = self._slots[index]
        slot.loaded = True
        slot.load_attempts = 0
        self.idle.append(index)

    def load_failed(self, index: int) -> int:
        """The slot's worker failed to load (and stopped); the attempts so far."""
        slot = self._slots[index]
        slot.key = None
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

    def gone(self, index: int) -> tuple[ReplicaKey | None, list[Work]]:
        """The slot's worker died or is being retired: its key, and the requests it held (now nobody's)."""
        slot = self._slots[index]
        key, slot.key = slot.key, None
        held = [w for b in slot.batches for w in b]
        slot.batches.clear()
        slot.loaded = False
        if index in self.idle:
            self.idle.remove(index)
        return key, held

    def record_crash(self, index: int, now: float) -> float | None:
        """Count a crash; the restart delay, or None when the restart budget is spent."""
        return self._slots[index].restarts.record(now)

    def crash_count(self, index: int) -> int:
        """Crashes of the slot within the restart window."""
        return self._slots[index].restarts.failures

    def stop_all(self) -> list[ReplicaKey]:
        """Forget every worker; the keys of those to stop."""
        keys = [s.key for s in self._slots if s.key is not None]
        for slot in self._slots:
            slot.key = None
            slot.loaded = False
        self.idle.clear()
        return keys

    # --- work ----------------------------------------------------------------

    @property
    def loaded_count(self) -> int:
        """Slots with a loaded model."""
        return sum(s.loaded for s in self._slots)

    def loaded_indices(self) -> list[int]:
        """Slots whose worker has loaded."""
        return [i for i, s in enumerate(self._slots) if s.loaded and s.key is not None]

    @property
    def can_pipeline(self) -> bool:
        """True when a busy worker can take one more (full) batch into its inbox."""
        depth = self._depth
        for slot in self._slots:  # noqa: SIM110 - a plain loop: this runs once per request under load
            if slot.loaded and 0 < len(slot.batches) < depth:
                return True
        return False

    def assign(self, batch: list[Work]) -> int:
        """Give `batch` to an idle worker, else to the least busy one with room; the slot's index.

        Callers check `idle` or `can_pipeline` first.
        """
        if self.idle:
            index = self.idle.pop()
        else:
            index = min(
                (i for i, s in enumerate(self._slots) if s.loaded and len(s.batches) < self._depth),
                key=lambda i: len(self._slots[i].batches),
            )
        self._slots[index].batches.append(batch)
        return index

    def release(self, key: ReplicaKey) -> list[Work]:
        """The worker finished its oldest batch; the requests it held."""
        index = key.index
        slot = self._slots[index]
        mine = slot.key
        if (mine is not key and mine != key) or not slot.batches:
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
