"""The version lifecycle as data: a pure transition table, and each status's flags.

Every edge of the table, one per line (a test checks this list against `_TABLE`):

```
LOADING  --loaded-->       READY
LOADING  --load_failed-->  FAILED
LOADING  --drain-->        DRAINING
LOADING  --crashed-->      FAILED
READY    --drain-->        DRAINING
READY    --crashed-->      FAILED
SERVING  --drain-->        DRAINING
SERVING  --crashed-->      FAILED
DRAINING --drained-->      STOPPED
DRAINING --crashed-->      STOPPED
FAILED   --restart-->      LOADING
FAILED   --drain-->        STOPPED
```

STOPPED is terminal. A crash while draining ends the drain (STOPPED), since
the version was leaving anyway; a crash otherwise leaves it FAILED for the
supervisor to restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from actorserve.domain.enums import ModelStatus
from actorserve.domain.errors import LifecycleError

__all__ = [
    "ROUTABLE",
    "LifecycleEvent",
    "Phase",
    "allowed_events",
    "phase_of",
    "transition",
]


class LifecycleEvent(Enum):
    """What happened to a version."""

    LOADED = "loaded"
    """Enough replicas loaded the model."""
    LOAD_FAILED = "load_failed"
    """Every replica exhausted its load retries."""
    DRAIN = "drain"
    """The version was asked to unload."""
    DRAINED = "drained"
    """Nothing is queued or in flight any more (or the drain timed out)."""
    CRASHED = "crashed"
    """The version's actor failed unexpectedly."""
    RESTART = "restart"
    """The supervisor starts the version again after a crash."""


_S = ModelStatus
_E = LifecycleEvent

_TABLE: dict[tuple[ModelStatus, LifecycleEvent], ModelStatus] = {
    (_S.LOADING, _E.LOADED): _S.READY,
    (_S.LOADING, _E.LOAD_FAILED): _S.FAILED,
    (_S.LOADING, _E.DRAIN): _S.DRAINING,
    (_S.LOADING, _E.CRASHED): _S.FAILED,
    (_S.READY, _E.DRAIN): _S.DRAINING,
    (_S.READY, _E.CRASHED): _S.FAILED,
    (_S.SERVING, _E.DRAIN): _S.DRAINING,
    (_S.SERVING, _E.CRASHED): _S.FAILED,
    (_S.DRAINING, _E.DRAINED): _S.STOPPED,
    (_S.DRAINING, _E.CRASHED): _S.STOPPED,
    (_S.FAILED, _E.RESTART): _S.LOADING,
    (_S.FAILED, _E.DRAIN): _S.STOPPED,
}

ROUTABLE: frozenset[ModelStatus] = frozenset({_S.READY, _S.SERVING})
"""States in which a version accepts new traffic."""


@dataclass(frozen=True, slots=True)
class Phase:
    """A status with what it allows, so callers read flags instead of comparing enums on the hot path."""

    status: ModelStatus
    accepting: bool
    """New requests are admitted (READY, SERVING)."""
    dispatching: bool
    """Queued requests are handed to workers (READY, SERVING, DRAINING)."""


_PHASES = {
    status: Phase(status, status in ROUTABLE, status in ROUTABLE or status is _S.DRAINING) for status in ModelStatus
}


def phase_of(status: ModelStatus) -> Phase:
    """The `Phase` of `status`."""
    return _PHASES[status]


def transition(state: ModelStatus, event: LifecycleEvent) -> Phase:
    """Return the phase after `event`.

    Raises:
        LifecycleError: when the table has no such (state, event) pair.
    """
    try:
        return _PHASES[_TABLE[(state, event)]]
    except KeyError:
        allowed = ", ".join(e.value for e in allowed_events(state)) or "none"
        msg = f"event {event.value!r} is not allowed in state {state.value!r} (allowed: {allowed})"
        raise LifecycleError(msg, state=state.value, event=event.value) from None


def allowed_events(state: ModelStatus) -> list[LifecycleEvent]:
    """The events `state` accepts, in declaration order."""
    return [event for (s, event) in _TABLE if s is state]
