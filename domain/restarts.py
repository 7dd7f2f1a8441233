"""Restart budgets: how often a supervisor may restart what keeps failing, and how long it waits."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actorserve.domain.config import ServingConfig

__all__ = ["RestartBudget"]


class RestartBudget:
    """At most `max_restarts` restarts within a sliding `window_s`, with doubling back-off."""

    __slots__ = ("_backoff_s", "_max", "_times", "_window_s")

    @classmethod
    def for_config(cls, config: ServingConfig) -> RestartBudget:
        """The budget a version's `ServingConfig` allows."""
        return cls(
            max_restarts=config.max_restarts, window_s=config.restart_window_s, backoff_s=config.restart_backoff_s
        )

    def __init__(self, *, max_restarts: int, window_s: float, backoff_s: float) -> None:
        self._max = max_restarts
        self._window_s = window_s
        self._backoff_s = backoff_s
        self._times: deque[float] = deque()

    def record(self, now: float) -> float | None:
        """Count a failure at `now`; the delay before restarting, or None when the budget is spent."""
        while self._times and now - self._times[0] > self._window_s:
            self._times.popleft()
        self._times.append(now)
        if len(self._times) > self._max:
            return None
        return self._backoff_s * (1 << (len(self._times) - 1))

    @property
    def failures(self) -> int:
        """Failures counted in the current window."""
        return len(self._times)
