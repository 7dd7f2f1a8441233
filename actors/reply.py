"""One-shot replies that travel inside messages: the first answer wins.

A caller creates the reply and puts it in its message; whichever actor finishes
the work completes it. Completing never blocks the completer, so actors can do
it freely; only the caller waits, always with a timeout.
"""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Generic, TypeVar

__all__ = ["AsyncReply", "Reply", "SyncReply", "wait_budget"]

T = TypeVar("T")

_UNSET: object = object()


def wait_budget(seconds: float) -> float:
    """`seconds` as a timeout every blocking wait accepts: within [0, threading.TIMEOUT_MAX], NaN as 0.

    Lock and thread waits raise OverflowError past TIMEOUT_MAX (about 49 days
    on Linux) and ValueError on NaN; a caller's budget must never do either.
    """
    if not seconds > 0:  # also NaN
        return 0.0
    return min(seconds, threading.TIMEOUT_MAX) if math.isfinite(seconds) else threading.TIMEOUT_MAX


class Reply(Generic[T]):
    """A write-once slot. `set` returns True for the first answer, False after."""

    __slots__ = ("_claim", "_value")

    def __init__(self) -> None:
        # first-wins without a critical section: only one non-blocking acquire can succeed
        self._claim = threading.Lock()
        self._value: object = _UNSET

    @property
    def done(self) -> bool:
        """True once an answer was set."""
        return self._value is not _UNSET

    def set(self, value: T) -> bool:
        """Complete with `value` unless already completed; never blocks."""
        if self.claim(value):
            self._notify(value)
            return True
        return False

    def claim(self, value: T) -> bool:
        """Take the answer slot without waking the waiter yet; call `publish()` next.

        Lets a completer finish its bookkeeping (e.g. tell the version `Done`)
        before the caller wakes, so the caller reads its own writes.
        """
        if not self._claim.acquire(blocking=False):
            return False
        self._value = value
        return True

    def publish(self) -> None:
        """Wake the waiter after a successful `claim`."""
        self._notify(self._value)  # type: ignore[arg-type]

    def value(self) -> T:
        """The answer; only valid once `done`."""
        if self._value is _UNSET:
            msg = "reply not completed yet"
            raise LookupError(msg)
        return self._value  # type: ignore[return-value]

    def _notify(self, value: T) -> None:
        """Wake whoever waits; called once."""


class SyncReply(Reply[T]):
    """A reply a plain thread waits on (a held lock that the answer releases)."""

    __slots__ = ("_wake",)

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Lock()
        self._wake.acquire()

    def _notify(self, value: T) -> None:
        self._wake.release()

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True if answered."""
        if self._wake.acquire(timeout=wait_budget(timeout)):
            self._wake.release()  # later waits return at once
            return True
        return False


class AsyncReply(Reply[T]):
    """A reply that resolves an asyncio future on its loop, from any thread."""

    __slots__ = ("_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._future: asyncio.Future[T] = loop.create_future()

    @property
    def future(self) -> asyncio.Future[T]:
        """Await this (it never blocks the loop)."""
        return self._future

    def _notify(self, value: T) -> None:
        try:
            self._loop.call_soon_threadsafe(self._resolve, value)
        except RuntimeError:
            pass  # the loop closed: nobody is waiting any more

    def _resolve(self, value: T) -> None:
        if not self._future.done():
            self._future.set_result(value)
