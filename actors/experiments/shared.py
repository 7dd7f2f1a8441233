"""SharedArms: an A/B test's arms as every process that runs it sees them (DESIGN §7, "Sharing").

The A/B actor counts each observation twice: into its view (what it
reports and decides on) and into `local`, the tallies since its last sync.
Every `interval_s` it hands `local` to the state actor as counter increments
(`SyncCounters`); the state actor writes them with everything else buffered
and reads back every writer's totals (`CountersRead`). The view is then
rebuilt as stored totals, plus the syncs not yet confirmed by a read, plus
`local`. So `report()` in any process shows the totals of all of them,
within one interval, and a restarted runtime resumes from the stored ones.

Runs on the A/B actor's thread; never waits on the state actor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actorserve.actors.messages import Count, CountersRead, Remember, SyncCounters, safe_tell
from actorserve.domain.abarms import ArmStats
from actorserve.domain.abcounters import add_counters, arm_counters, arm_from_counters
from actorserve.domain.state import CounterBatch, Counters, Document

if TYPE_CHECKING:
    import pykka

    from actorserve.actors.scheduler import Scheduler
    from actorserve.domain.ports import StateStore

__all__ = ["ARM_COUNTERS", "UNIT_COUNTERS", "SharedArms", "StatsSync"]

log = logging.getLogger(__name__)

ARM_COUNTERS = "ab_arm"
"""Counter kind of an arm's tallies (key: `<test id>/<epoch>/<arm index>`)."""

UNIT_COUNTERS = "ab_unit"
"""Counter kind of an arm's per-unit tallies (same key)."""


@dataclass(frozen=True, slots=True)
class StatsSync:
    """Where and how often an A/B test shares its statistics (None: memory only).

    Attributes:
        state: the runtime's state actor.
        store: its store, read once when the test starts (the only read outside the state actor).
        scheduler: the runtime's timer thread.
        interval_s: how often the test syncs.
        prefix: `<test id>/<epoch>`: this run of the test in the store.
    """

    state: pykka.ActorRef[Any]
    store: StateStore
    scheduler: Scheduler
    interval_s: float
    prefix: str


class SharedArms:
    """The local side of the shared statistics: what has not been synced yet, and the last totals read.

    Args:
        sync: where to sync.
        arms: how many arms.
        me: the A/B actor (where the totals come back).
    """

    remember_kind = "ab_request"
    """Document kind of the arm that served a request (key: `<test id>/<epoch>/<request id>`), kept for outcomes."""

    remember_ms = 24 * 3600 * 1000
    """How long an outcome may arrive after its request and still count (a day)."""

    def __init__(self, sync: StatsSync, arms: int, me: pykka.ActorRef[Any]) -> None:
        self.sync = sync
        self._me = me
        self.local = [ArmStats() for _ in range(arms)]
        self._targets = [
            ((ARM_COUNTERS, f"{sync.prefix}/{i}"), (UNIT_COUNTERS, f"{sync.prefix}/{i}")) for i in range(arms)
        ]
        self._pending: list[tuple[int, CounterBatch]] = []
        self._seq = 0
        self._waiting = False  # a sync is out: the next one waits for its answer (a slow store gets one at a time)
        self._served: list[tuple[str, Document]] = []

    def load(self) -> list[ArmStats] | None:
        """The stored totals, read from the store directly (when the test starts); None if it cannot be read.

        A restored or joined test must report what is stored from its first
        call on, so this read does not wait for the first sync.
        """
        reads = [target for pair in self._targets for target in pair]
        try:
            totals = {(kind, key): self.sync.store.read_counters(kind, key) for kind, key in reads}
        except Exception as exc:  # noqa: BLE001 - the first sync reads them again
            log.warning("A/B statistics not read from the store at start: %s", exc)
            return None
        return self.received(CountersRead(0, totals))

    def served(self, key: str, doc: Document) -> None:
        """Remember which arm served a request: handed to the state actor with the next sync."""
        self._served.append((key, doc))

    def _hand_over_served(self) -> None:
        if self._served:
            safe_tell(self.sync.state, Remember(self.remember_kind, tuple(self._served), self.remember_ms))
            self._served = []

    def _batch(self) -> CounterBatch:
        batch: dict[tuple[str, str], Counters] = {}
        for arm, (fields_at, units_at) in zip(self.local, self._targets, strict=True):
            fields, units = arm_counters(arm)
            if fields:
                batch[fields_at] = fields
            if units:
                batch[units_at] = units
        return batch

    def send(self) -> None:
        """Hand what was counted since the last sync to the state actor, and ask for the totals.

        While the previous sync is unanswered (a slow or lost store), nothing
        is sent: the tallies keep adding up here until it answers.
        """
        self._hand_over_served()
        if self._waiting:
            return
        batch = self._batch()
        self._seq += 1
        self._pending.append((self._seq, batch))
        self.local = [ArmStats() for _ in self.local]
        reads = tuple(target for pair in self._targets for target in pair)
        self._waiting = safe_tell(self.sync.state, SyncCounters(batch, self._seq, reads, self._me))

    def flush(self) -> None:
        """Hand over what is left (the test is stopping); no read back."""
        self._hand_over_served()
        batch = self._batch()
        if batch:
            safe_tell(self.sync.state, Count(batch))
        self.local = [ArmStats() for _ in self.local]

    def received(self, m: CountersRead) -> list[ArmStats] | None:
        """The view after the state actor's answer to sync `m.seq`; None when the store did not answer."""
        if m.seq == self._seq:
            self._waiting = False
        if m.totals is None:
            return None
        self._pending = [(seq, batch) for seq, batch in self._pending if seq > m.seq]
        view = []
        for i, (fields_at, units_at) in enumerate(self._targets):
            later = [batch for _, batch in self._pending]
            local_fields, local_units = arm_counters(self.local[i])
            fields = add_counters(m.totals.get(fields_at, {}), *(b.get(fields_at, {}) for b in later), local_fields)
            units = add_counters(m.totals.get(units_at, {}), *(b.get(units_at, {}) for b in later), local_units)
            view.append(arm_from_counters(fields, units))
        return view
