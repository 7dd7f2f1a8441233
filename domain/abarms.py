"""One A/B arm's tallies: counts, running moments, the latency histogram and the per-unit ledger."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from actorserve.domain.abspec import RATE_METRICS
from actorserve.domain.abstats import ArmSample
from actorserve.domain.enums import ErrorCode
from actorserve.domain.metrics import LatencyHistogram
from actorserve.domain.stats import RunningStats, Summary
from actorserve.domain.units import UnitLedger

__all__ = ["ArmStats"]

_MAX_UNITS = 1_000_000
"""Distinct keys remembered per arm for the sample-ratio check (beyond it, no new ones are counted)."""


@dataclass(slots=True)
class ArmStats:
    """One arm's tallies (owned by the experiment actor).

    `units` are the distinct keys (users) assigned: with sticky keys the user,
    not the request, is the unit of randomisation, so the sample-ratio check
    counts users when there are any. `ledger` keeps the per-unit sums the
    delta method and CUPED read (`domain.units`).
    """

    assigned: int = 0
    units: set[str] = field(default_factory=set)
    successes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latency: RunningStats = field(default_factory=RunningStats)
    latency_histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    cost: RunningStats = field(default_factory=RunningStats)
    tokens: int = 0
    custom: dict[str, RunningStats] = field(default_factory=dict)
    ledger: UnitLedger = field(default_factory=UnitLedger)

    @property
    def answered(self) -> int:
        """Requests with an answer."""
        return self.successes + sum(self.failures.values())

    def record(
        self,
        *,
        success: bool,
        latency_ms: float,
        cost_usd: float,
        tokens: int,
        error_code: ErrorCode | None,
        key: str | None = None,
    ) -> None:
        """Count one answered request (for `key`'s unit, or as a unit of its own)."""
        self.ledger.add(key, "success_rate", 1.0, 1.0 if success else 0.0)
        if success:
            self.successes += 1
            self.latency.add(latency_ms)
            self.latency_histogram.record(latency_ms)
            self.cost.add(cost_usd)
            self.tokens += tokens
            self.ledger.add(key, "latency", 1.0, latency_ms)
            self.ledger.add(key, "cost", 1.0, cost_usd)
        else:
            self.failures[(error_code or ErrorCode.MODEL_ERROR).value] += 1

    def assign(self, key: str | None) -> None:
        """Count one assignment (and its key)."""
        self.assigned += 1
        if key is not None and len(self.units) < _MAX_UNITS:
            self.units.add(key)

    def record_custom(self, metric: str, value: float, key: str | None = None) -> None:
        """Count one business outcome reported later by the host (for `key`'s unit, if any)."""
        self.custom.setdefault(metric, RunningStats()).add(value)
        self.ledger.add(key, metric, 1.0, value)

    def sample(self, metric: str) -> ArmSample | None:
        """This arm's data on `metric` now (None for a custom metric never reported)."""
        units = self.ledger.ratio(metric)
        if metric in RATE_METRICS:
            hits = self.successes if metric == "success_rate" else self.answered - self.successes
            p = hits / self.answered if self.answered else 0.0
            return ArmSample("rate", self.answered, hits, Summary(self.answered, p, p * (1.0 - p)), units)
        stats = self.latency if metric == "latency" else self.cost if metric == "cost" else self.custom.get(metric)
        if stats is None:
            return None
        return ArmSample("mean", stats.n, 0, stats.summary(), units)
