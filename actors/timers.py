"""Named timer slots of one actor on the runtime's `Scheduler`: arming a slot replaces its timer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from actorserve.actors.messages import TimerFired, safe_tell
from actorserve.actors.scheduler import Scheduler, TimerHandle

if TYPE_CHECKING:
    import pykka

__all__ = ["Timers"]


def _teller(ref: pykka.ActorRef[Any], message: TimerFired) -> Callable[[], object]:
    return lambda: safe_tell(ref, message)


class Timers:
    """When a slot is due, the actor is told `TimerFired(name)`; used on the actor's own thread."""

    def __init__(self, scheduler: Scheduler, ref: pykka.ActorRef[Any]) -> None:
        self._scheduler = scheduler
        self._ref = ref
        self._handles: dict[str, TimerHandle] = {}

    def apply(self, changes: Iterable[tuple[str, float | None]]) -> None:
        """Arm each slot at its monotonic due time, or cancel it (None)."""
        for name, due in changes:
            old = self._handles.pop(name, None)
            if old is not None:
                old.cancel()
            if due is not None:
                self._handles[name] = self._scheduler.call_at(due, _teller(self._ref, TimerFired(name)))

    def cancel_all(self) -> None:
        """Cancel every slot."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
