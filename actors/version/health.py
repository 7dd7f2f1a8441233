"""Replica health probes of one version: when to probe, and what an answer means (pure)."""

from __future__ import annotations

from actorserve.domain.health import ProbeSummary, ProbeTracker

__all__ = ["ReplicaProbes"]


class ReplicaProbes:
    """Consecutive failed probes per replica, and the summary the registry last heard.

    `threshold` failures in a row (an unanswered probe past its timeout counts
    as one) mean the replica is replaced like a crashed one.
    """

    def __init__(self, threshold: int) -> None:
        self._tracker = ProbeTracker(threshold)
        self._reported: ProbeSummary | None = None

    def due(self, replica: int, now: float, timeout_s: float) -> str:
        """`send` a probe, `wait` for the one out, or `overdue` (unanswered for `timeout_s`)."""
        return self._tracker.due(replica, now, timeout_s)

    def sent(self, replica: int, at: float) -> None:
        """A probe went to the replica at `at`."""
        self._tracker.sent(replica, at)

    def answered(self, replica: int) -> None:
        """The replica answered its outstanding probe."""
        self._tracker.answered(replica)

    def record(self, replica: int, healthy: bool, error: str | None) -> tuple[bool, ProbeSummary | None]:
        """Note one probe's result: (replace the replica now, the new summary if it changed)."""
        replace = self._tracker.record(replica, healthy, error)
        summary = self._tracker.summary()
        if summary == self._reported:
            return replace, None
        self._reported = summary
        return replace, summary

    def forget(self, replica: int) -> None:
        """The replica was replaced: its history no longer applies."""
        self._tracker.forget(replica)
