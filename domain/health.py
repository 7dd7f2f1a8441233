"""Replica health probes: consecutive failures per replica, and the summary a version reports."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ProbeSummary", "ProbeTracker"]


@dataclass(frozen=True, slots=True)
class ProbeSummary:
    """How a version's loaded replicas did on their latest probes."""

    healthy: int
    probed: int
    error: str | None


@dataclass(slots=True)
class ProbeTracker:
    """Counts each replica's consecutive failed probes; `threshold` in a row means replace it."""

    threshold: int
    _failures: dict[int, int] = field(default_factory=dict)
    _latest: dict[int, bool] = field(default_factory=dict)
    _sent: dict[int, float] = field(default_factory=dict)
    _error: str | None = None

    def due(self, replica: int, now: float, timeout_s: float) -> str:
        """What to do about a replica's probe now: `send` one, `wait` for the one out, or `overdue`.

        `overdue` means the probe out has gone unanswered for `timeout_s` or more.
        """
        sent = self._sent.get(replica)
        if sent is None:
            return "send"
        return "overdue" if now - sent >= timeout_s else "wait"

    def sent(self, replica: int, at: float) -> None:
        """A probe went to the replica at monotonic time `at`."""
        self._sent[replica] = at

    def answered(self, replica: int) -> None:
        """The replica answered its outstanding probe."""
        self._sent.pop(replica, None)

    def record(self, replica: int, healthy: bool, error: str | None = None) -> bool:
        """Note one probe's answer; True when the replica has now failed `threshold` probes in a row."""
        self._latest[replica] = healthy
        if healthy:
            self._failures[replica] = 0
            return False
        self._error = error
        failures = self._failures.get(replica, 0) + 1
        self._failures[replica] = failures
        return failures >= self.threshold

    def forget(self, replica: int) -> None:
        """The replica was replaced: its history no longer applies."""
        self._failures.pop(replica, None)
        self._latest.pop(replica, None)
        self._sent.pop(replica, None)

    def summary(self) -> ProbeSummary:
        """Replicas whose latest probe passed, replicas probed, and the latest failure's reason."""
        healthy = sum(self._latest.values())
        return ProbeSummary(healthy, len(self._latest), None if healthy == len(self._latest) else self._error)
