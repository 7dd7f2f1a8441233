"""Keeps the threads a runtime started, so `stop()` can join them and tests can count them."""

from __future__ import annotations

import threading
import time

__all__ = ["ThreadTracker"]


class ThreadTracker:
    """A lock-protected set of threads; actors add their own thread in `on_start`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def add_current(self) -> None:
        """Record the calling thread (call from an actor's `on_start`)."""
        thread = threading.current_thread()
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def alive(self) -> list[threading.Thread]:
        """Recorded threads that are still running."""
        with self._lock:
            return [t for t in self._threads if t.is_alive()]

    def join_all(self, timeout: float) -> list[threading.Thread]:
        """Join every recorded thread within `timeout` seconds; return the ones still alive."""
        deadline = time.monotonic() + timeout
        me = threading.current_thread()
        while True:
            pending = [t for t in self.alive() if t is not me]
            if not pending:
                return []
            for thread in pending:
                thread.join(max(deadline - time.monotonic(), 0.0))
            if time.monotonic() >= deadline:
                return [t for t in self.alive() if t is not me]
