"""One model version: a pure core (`VersionCore`) in a thin Pykka shell (`VersionActor`), and its workers.

```
actor.py    VersionActor: messages and timer ticks → core calls; effects → tells
core.py     VersionCore: queue, admission, batching, deadlines, drain, lifecycle (pure, takes `now`)
effects.py  Effects: what one core call decided, for the shell to carry out
slots.py    ReplicaSlots: which worker is current, loaded, idle, and what each holds (pure)
health.py   ReplicaProbes: when to probe a replica and what its answers mean (pure)
replicas.py Workers: the worker actors the core asks for, by replica key
timers.py   Timers: named timer slots on the runtime's scheduler
ledger.py   VersionLedger: answers the version gives itself, metrics, reports
worker.py   WorkerActor: one loaded model instance running batches
```
"""

from __future__ import annotations

from actorserve.actors.version.actor import VersionActor, VersionDeps
from actorserve.actors.version.core import VersionCore
from actorserve.actors.version.effects import Effects

__all__ = ["Effects", "VersionActor", "VersionCore", "VersionDeps"]
