"""Bounded-memory latency statistics and the per-version metrics accumulator."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from actorserve.domain.entities import ModelMetrics
from actorserve.domain.enums import ErrorCode, ModelStatus

__all__ = ["Ewma", "LatencyHistogram", "MetricsRecorder", "Outcome"]


class LatencyHistogram:
    """Log-bucketed histogram: fixed memory, percentiles within ~2.5 % relative error.

    Buckets grow by `ratio` from `min_ms`; values below land in bucket 0 and
    above the top in the last bucket (exact min and max are kept beside).
    """

    __slots__ = ("_counts", "_log_ratio", "_min_ms", "count", "max_ms", "min_ms", "total_ms")

    def __init__(self, *, min_ms: float = 0.001, max_ms: float = 3_600_000.0, ratio: float = 1.05):
        self._min_ms = min_ms
        self._log_ratio = math.log(ratio)
        buckets = math.ceil(math.log(max_ms / min_ms) / self._log_ratio) + 2
        self._counts = [0] * buckets
        self.count = 0
        self.total_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = 0.0

    def record(self, value_ms: float) -> None:
        """Add one observation (negative values count as zero)."""
        value_ms = max(value_ms, 0.0)
        if value_ms <= self._min_ms:
            index = 0
        else:
            index = min(
                int(math.log(value_ms / self._min_ms) / self._log_ratio) + 1,
                len(self._counts) - 1,
            )
        self._counts[index] += 1
        self.count += 1
        self.total_ms += value_ms
        self.min_ms = min(self.min_ms, value_ms)
        self.max_ms = max(self.max_ms, value_ms)

    def percentile(self, q: float) -> float:
        """The `q`-th percentile (0-100) in ms; 0.0 when empty."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(q / 100.0 * self.count))
        seen = 0
        for index, n in enumerate(self._counts):
            seen += n
            if seen >= rank:
                # the geometric middle of bucket i, which spans [min*r^(i-1), min*r^i)
                estimate = self._min_ms if index == 0 else self._min_ms * math.exp((index - 0.5) * self._log_ratio)
                return min(max(estimate, self.min_ms), self.max_ms)
        return self.max_ms

    @property
    def mean_ms(self) -> float:
        """Arithmetic mean in ms; 0.0 when empty."""
        return self.total_ms / self.count if self.count else 0.0

    def buckets(self) -> dict[int, int]:
        """The non-empty buckets: index → count (additive across histograms of the same layout)."""
        return {i: n for i, n in enumerate(self._counts) if n}

    def add_buckets(self, buckets: dict[int, int], total_ms: float) -> None:
        """Fold in another histogram's `buckets()` and its `total_ms` (min and max become the buckets' bounds)."""
        top = len(self._counts) - 1
        for given, n in buckets.items():
            if n <= 0:
                continue
            index = min(max(given, 0), top)
            self._counts[index] += n
            self.count += n
            low = 0.0 if index == 0 else self._min_ms * math.exp((index - 1) * self._log_ratio)
            high = self._min_ms * math.exp(index * self._log_ratio)
            self.min_ms = min(self.min_ms, low)
            self.max_ms = max(self.max_ms, high)
        self.total_ms += total_ms


class Ewma:
    """Exponentially weighted moving average; `value` is None until the first sample."""

    __slots__ = ("alpha", "value")

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = alpha
        self.value: float | None = None

    def update(self, sample: float) -> float:
        """Fold in one sample and return the new average."""
        self.value = sample if self.value is None else self.value + self.alpha * (sample - self.value)
        return self.value


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one request ended, as the version records it."""

    request_id: str
    success: bool
    latency_ms: float
    error_code: ErrorCode | None = None
    tokens: int = 0
    cost_usd: float = 0.0


class MetricsRecorder:
    """Counters one version actor owns; `snapshot()` copies them into a `ModelMetrics`."""

    __slots__ = ("_errors", "_latency", "cost_usd", "failed", "succeeded", "tokens")

    def __init__(self) -> None:
        self._latency = LatencyHistogram()
        self._errors: dict[str, int] = {}
        self.succeeded = 0
        self.failed = 0
        self.tokens = 0
        self.cost_usd = 0.0

    def record(self, outcome: Outcome) -> None:
        """Count one answered request."""
        if outcome.success:
            self.succeeded += 1
        else:
            self.failed += 1
            code = outcome.error_code.value if outcome.error_code else "unknown"
            self._errors[code] = self._errors.get(code, 0) + 1
        self._latency.record(outcome.latency_ms)
        self.tokens += outcome.tokens
        self.cost_usd += outcome.cost_usd

    def record_all(self, outcomes: Iterable[Outcome]) -> None:
        """Count several answered requests."""
        for outcome in outcomes:
            self.record(outcome)

    def snapshot(
        self,
        version_id: str,
        *,
        timestamp: datetime,
        queue_depth: int = 0,
        in_flight: int = 0,
        replicas_ready: int = 0,
        status: ModelStatus | None = None,
    ) -> ModelMetrics:
        """A new `ModelMetrics` holding the current figures."""
        lat = self._latency
        return ModelMetrics(
            version_id=version_id,
            timestamp=timestamp,
            total_requests=self.succeeded + self.failed,
            successful_requests=self.succeeded,
            failed_requests=self.failed,
            avg_latency_ms=lat.mean_ms,
            p50_latency_ms=lat.percentile(50),
            p95_latency_ms=lat.percentile(95),
            p99_latency_ms=lat.percentile(99),
            tokens_processed=self.tokens,
            cost_usd=self.cost_usd,
            errors_by_code=dict(self._errors),
            queue_depth=queue_depth,
            in_flight=in_flight,
            max_latency_ms=lat.max_ms,
            replicas_ready=replicas_ready,
            status=status,
        )
