"""One timer thread for the whole runtime: deadlines, batch waits, back-offs, drain timeouts.

Actors must not sleep, so anything that should happen later is a callback
(almost always `ref.tell(message)`) scheduled here. Callbacks run on the
timer thread and must be quick and non-blocking.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from actorserve.domain.ports import Clock

__all__ = ["Scheduler", "TimerHandle"]

log = logging.getLogger(__name__)


@dataclass(order=True, slots=True)
class TimerHandle:
    """A scheduled callback; `cancel()` stops it from running."""

    due: float
    seq: int
    callback: Callable[[], object] | None = field(compare=False)

    def cancel(self) -> None:
        """Forget the callback (it is skipped when due)."""
        self.callback = None


class Scheduler:
    """A heap of timers served by one thread, stopped by `stop()`.

    A daemon thread, like the actors' (see `ServingActor`): a runtime left
    running never keeps the interpreter from exiting; `ServingRuntime` stops
    it at exit instead.
    """

    def __init__(self, clock: Clock, *, name: str = "actorserve-timer") -> None:
        self._clock = clock
        self._heap: list[TimerHandle] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` on the timer thread after `delay_s` seconds."""
        return self.call_at(self._clock.monotonic() + max(delay_s, 0.0), callback)

    def call_at(self, due: float, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` on the timer thread at monotonic time `due`."""
        handle = TimerHandle(due, next(self._seq), callback)
        with self._cond:
            if self._stopped:
                handle.cancel()
                return handle
            heapq.heappush(self._heap, handle)
            if self._heap[0] is handle:
                self._cond.notify()
        return handle

    def stop(self, timeout: float = 5.0) -> None:
        """Drop pending timers and join the thread."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def thread(self) -> threading.Thread:
        """The timer thread (for leak checks)."""
        return self._thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap and self._heap[0].callback is None:
                        heapq.heappop(self._heap)
                        continue
                    wait = self._heap[0].due - self._clock.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(1.0 if wait is None else min(wait, 1.0))
                if self._stopped:
                    return
                handle = heapq.heappop(self._heap)
            callback = handle.callback
            if callback is not None:
                try:
                    callback()
                except Exception:
                    log.exception("timer callback failed")
