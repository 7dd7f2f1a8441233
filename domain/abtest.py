"""A/B(/n) tests as pure data: the spec, sticky assignment, per-arm tallies, the analysis.

Arm 0 is the control ("A"). The analysis compares every other arm with the
control on each metric, checks the sample ratio and the minimum sample, and
names a winner only when the success metric's difference is significant.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import ConfigError
from actorserve.domain.metrics import LatencyHistogram
from actorserve.domain.stats import Comparison, RunningStats, compare_means, compare_rates, sample_ratio_mismatch

__all__ = ["ABTestSpec", "ArmStats", "analyze", "arm_label", "assign"]

BUILTIN_METRICS = ("success_rate", "error_rate", "latency", "cost")
_LOWER_IS_BETTER = frozenset({"error_rate", "latency", "cost"})
SRM_ALPHA = 0.001
"""Below this p-value the observed split is too far from the configured one to trust."""


def arm_label(index: int) -> str:
    """The label of arm `index`: A, B, C, ..."""
    return chr(ord("A") + index) if index < 26 else f"arm{index}"


def _unit(text: str) -> float:
    # surrogatepass: any string hashes (a key decoded with surrogateescape too), and every
    # other string encodes exactly as strict UTF-8 did, so sticky assignments stay put
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class ABTestSpec:
    """What an A/B test compares and how it decides.

    Attributes:
        test_id: the test's id (part of the sticky hash, so keys stay put across restarts).
        arms: version ids; arm 0 is the control.
        weights: traffic share per arm (any positive scale).
        success_metric: `success_rate`, `error_rate`, `latency`, `cost`, or a custom metric name.
        alpha: significance level (Bonferroni-split across the non-control arms).
        min_samples: answered requests (or outcomes, for custom metrics) each arm needs.
        duration_s: after this, assignment stops and results freeze (None: no end).
        higher_is_better: for custom metrics, whether larger values win.
    """

    test_id: str
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    success_metric: str = "success_rate"
    alpha: float = 0.05
    min_samples: int = 100
    duration_s: float | None = None
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.test_id, str) or not self.test_id.strip():
            raise ConfigError(f"test_id: must be a non-empty string (got {self.test_id!r})", field="test_id")
        self._check_arms()
        if not isinstance(self.success_metric, str) or not self.success_metric.strip():
            raise ConfigError("success_metric: must be a metric name", field="success_metric")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha: must be between 0 and 1 (got {self.alpha!r})", field="alpha")
        if not isinstance(self.min_samples, int) or self.min_samples < 2:
            raise ConfigError(f"min_samples: must be an integer >= 2 (got {self.min_samples!r})", field="min_samples")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ConfigError(f"duration_s: must be > 0 or None (got {self.duration_s!r})", field="duration_s")

    def _check_arms(self) -> None:
        if len(self.arms) < 2:
            raise ConfigError(f"arms: an A/B test needs at least 2 versions (got {len(self.arms)})", field="arms")
        for vid in self.arms:
            if not isinstance(vid, str) or not vid.strip():
                raise ConfigError(f"arms: version ids must be non-empty strings (got {vid!r})", field="arms")
        if len(set(self.arms)) != len(self.arms):
            raise ConfigError("arms: the same version appears twice (A and B must differ)", field="arms")
        if len(self.weights) != len(self.arms):
            raise ConfigError(f"weights: need one per arm ({len(self.arms)}), got {len(self.weights)}", field="weights")
        for w in self.weights:
            if not isinstance(w, int | float) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
                raise ConfigError(f"weights: must be numbers >= 0 (got {w!r})", field="weights")
        if sum(self.weights) <= 0:
            raise ConfigError("weights: must sum to a positive number", field="weights")

    def lower_is_better(self, metric: str) -> bool:
        """Direction of `metric`."""
        return metric in _LOWER_IS_BETTER if metric in BUILTIN_METRICS else not self.higher_is_better


def assign(spec: ABTestSpec, key: str | None, draw: float) -> int:
    """The arm for one request: by `key` (sticky hash) when given, else by the uniform `draw`."""
    point = _unit(f"{spec.test_id}\x00{key}") if key is not None else draw
    total = sum(spec.weights)
    cumulative = 0.0
    for index, weight in enumerate(spec.weights):
        cumulative += weight / total
        if point < cumulative and weight > 0:
            return index
    return max(i for i, w in enumerate(spec.weights) if w > 0)


_MAX_UNITS = 1_000_000
"""Distinct keys remembered per arm for the sample-ratio check (beyond it, no new ones are counted)."""


@dataclass(slots=True)
class ArmStats:
    """One arm's tallies (owned by the experiment actor).

    `units` are the distinct keys (users) assigned: with sticky keys the user,
    not the request, is the unit of randomisation, so the sample-ratio check
    counts users when there are any.
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

    @property
    def answered(self) -> int:
        """Requests with an answer."""
        return self.successes + sum(self.failures.values())

    def record(
        self, *, success: bool, latency_ms: float, cost_usd: float, tokens: int, error_code: ErrorCode | None
    ) -> None:
        """Count one answered request."""
        if success:
            self.successes += 1
            self.latency.add(latency_ms)
            self.latency_histogram.record(latency_ms)
            self.cost.add(cost_usd)
            self.tokens += tokens
        else:
            self.failures[(error_code or ErrorCode.MODEL_ERROR).value] += 1

    def assign(self, key: str | None) -> None:
        """Count one assignment (and its key)."""
        self.assigned += 1
        if key is not None and len(self.units) < _MAX_UNITS:
            self.units.add(key)

    def record_custom(self, metric: str, value: float) -> None:
        """Count one business outcome reported later by the host."""
        self.custom.setdefault(metric, RunningStats()).add(value)


def _compare(metric: str, a: ArmStats, b: ArmStats, alpha: float) -> Comparison | None:
    if metric == "success_rate":
        return compare_rates(metric, a.successes, a.answered, b.successes, b.answered, alpha=alpha)
    if metric == "error_rate":
        fa, fb = a.answered - a.successes, b.answered - b.successes
        return compare_rates(metric, fa, a.answered, fb, b.answered, alpha=alpha)
    if metric == "latency":
        return compare_means(metric, a.latency.summary(), b.latency.summary(), alpha=alpha)
    if metric == "cost":
        return compare_means(metric, a.cost.summary(), b.cost.summary(), alpha=alpha)
    if metric in a.custom or metric in b.custom:
        sa = a.custom.get(metric, RunningStats()).summary()
        sb = b.custom.get(metric, RunningStats()).summary()
        return compare_means(metric, sa, sb, alpha=alpha)
    return None


def _samples(metric: str, arm: ArmStats) -> int:
    if metric in ("latency", "cost"):
        return arm.latency.n
    if metric in BUILTIN_METRICS:
        return arm.answered
    stats = arm.custom.get(metric)
    return stats.n if stats else 0


def _arm_report(spec: ABTestSpec, index: int, arm: ArmStats) -> dict[str, object]:
    lat, cost = arm.latency.summary(), arm.cost.summary()
    return {
        "label": arm_label(index),
        "version_id": spec.arms[index],
        "weight": spec.weights[index] / sum(spec.weights),
        "assigned": arm.assigned,
        "units": len(arm.units),
        "requests": arm.answered,
        "successes": arm.successes,
        "errors_by_code": dict(arm.failures),
        "success_rate": arm.successes / arm.answered if arm.answered else None,
        "latency_ms_mean": lat.mean if lat.n else None,
        "latency_ms_p50": arm.latency_histogram.percentile(50) if lat.n else None,
        "latency_ms_p95": arm.latency_histogram.percentile(95) if lat.n else None,
        "latency_ms_p99": arm.latency_histogram.percentile(99) if lat.n else None,
        "cost_usd_mean": cost.mean if cost.n else None,
        "cost_usd_total": cost.mean * cost.n,
        "tokens": arm.tokens,
        "custom": {name: {"n": s.n, "mean": s.mean} for name, s in sorted(arm.custom.items())},
    }


def analyze(spec: ABTestSpec, arms: Sequence[ArmStats], *, elapsed_s: float, ended: bool) -> dict[str, object]:
    """The full analysis: per-arm figures, comparisons per metric, SRM, sample rule, winner.

    `winner` is an arm label only when the success metric's difference is
    significant (at alpha, Bonferroni-split over the non-control arms), every
    arm has `min_samples`, and the split shows no sample-ratio mismatch;
    otherwise None, and `reason` says why.
    """
    k = len(arms)
    alpha = spec.alpha / (k - 1)
    metrics = [*BUILTIN_METRICS, *sorted({m for arm in arms for m in arm.custom})]
    comparisons: dict[str, list[dict[str, object]]] = {}
    success: list[Comparison | None] = []
    for metric in metrics:
        rows = []
        for i in range(1, k):
            c = _compare(metric, arms[0], arms[i], alpha)
            if c is not None:
                rows.append({"arm": arm_label(i), **c.as_dict()})
            if metric == spec.success_metric:
                success.append(c)
        comparisons[metric] = rows
    by_units = any(arm.units for arm in arms)
    srm = sample_ratio_mismatch([len(a.units) if by_units else a.assigned for a in arms], spec.weights)
    counts = [_samples(spec.success_metric, arm) for arm in arms]
    enough = all(n >= spec.min_samples for n in counts)
    winner, reason = _winner(spec, success, counts, enough, srm.p_value)
    return {
        "test_id": spec.test_id,
        "success_metric": spec.success_metric,
        "alpha": spec.alpha,
        "arms": [_arm_report(spec, i, arm) for i, arm in enumerate(arms)],
        "comparisons": comparisons,
        "sample_ratio_mismatch": {
            "unit": "key" if by_units else "request",
            "statistic": srm.statistic,
            "p_value": srm.p_value,
            "mismatch": srm.p_value < SRM_ALPHA,
        },
        "min_samples": spec.min_samples,
        "enough_samples": enough,
        "winner": winner,
        "reason": reason,
        "elapsed_s": elapsed_s,
        "ended": ended,
    }


def _winner(
    spec: ABTestSpec, success: list[Comparison | None], counts: list[int], enough: bool, srm_p: float
) -> tuple[str | None, str]:
    metric = spec.success_metric
    if not enough:
        have = ", ".join(f"{arm_label(i)} has {n}" for i, n in enumerate(counts))
        return None, f"not enough samples for {metric}: {have} of {spec.min_samples} needed per arm"
    if srm_p < SRM_ALPHA:
        return None, f"sample ratio mismatch (p={srm_p:.2g}): the split is off, results are not trustworthy"
    if any(c is None for c in success):
        return None, f"no data for metric {metric!r}"
    lower = spec.lower_is_better(metric)
    better = [
        (i + 1, c)
        for i, c in enumerate(success)
        if c is not None and c.significant and (c.difference < 0 if lower else c.difference > 0)
    ]
    if better:
        best_index, best = min(better, key=lambda item: item[1].b_value if lower else -item[1].b_value)
        return arm_label(
            best_index
        ), f"{arm_label(best_index)} is significantly better on {metric} (p={best.p_value:.2g})"
    if all(c is not None and c.significant for c in success):
        return "A", f"A is significantly better on {metric} than every other arm"
    p_values = ", ".join(f"{c.p_value:.2g}" for c in success if c is not None)
    return None, f"no significant difference in {metric} (p={p_values})"
