"""A/B(/n) tests as pure data: the spec, sticky assignment, per-arm tallies, the analysis.

Arm 0 is the control ("A"). The analysis compares every other arm with the
control on each metric (Holm's step-down over the arms), checks the sample
ratio and the minimum sample, and names a winner only when the deciding test
says so: the always-valid sequential test (`domain.abstats`) by default, the
fixed-horizon test when the spec says `sequential=False`. The spec lives in
`domain.abspec` and the tallies in `domain.abarms`; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from actorserve.domain.abarms import ArmStats
from actorserve.domain.abreport import report_sections, unit_of
from actorserve.domain.abspec import BUILTIN_METRICS, CONCLUDE_MODES, SRM_ALPHA, ABTestSpec, arm_label, assign
from actorserve.domain.abstats import ArmSample, SequentialState, Verdict, advance, judge, unit_comparison
from actorserve.domain.multiplicity import holm
from actorserve.domain.stats import (
    Comparison,
    RunningStats,
    Summary,
    compare_means,
    compare_rates,
    sample_ratio_mismatch,
)

__all__ = [
    "CONCLUDE_MODES",
    "ABTestSpec",
    "ArmStats",
    "analyze",
    "arm_label",
    "assign",
    "sample_counts",
    "sequential_look",
    "sequential_verdict",
]


def _compare_units(metric: str, a: ArmStats, b: ArmStats, alpha: float) -> Comparison | None:
    sa, sb = a.sample(metric), b.sample(metric)
    if sa is None and sb is None:
        return None
    empty = ArmSample("mean", 0, 0, Summary(0, 0.0, 0.0), a.ledger.ratio(""))
    return unit_comparison(metric, sa or empty, sb or empty, alpha=alpha)


def _compare(metric: str, a: ArmStats, b: ArmStats, alpha: float, unit: str) -> Comparison | None:
    if unit == "key":
        return _compare_units(metric, a, b, alpha)
    return _compare_requests(metric, a, b, alpha)


def _compare_requests(metric: str, a: ArmStats, b: ArmStats, alpha: float) -> Comparison | None:
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


def sample_counts(spec: ABTestSpec, arms: Sequence[ArmStats]) -> list[int]:
    """Each arm's observations of the success metric (answers, or outcomes for a custom metric)."""
    return [_samples(spec.success_metric, arm) for arm in arms]


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


def _srm_p(spec: ABTestSpec, arms: Sequence[ArmStats]) -> tuple[str, float, float]:
    by_units = any(arm.units for arm in arms)
    srm = sample_ratio_mismatch([len(a.units) if by_units else a.assigned for a in arms], spec.weights)
    return ("key" if by_units else "request"), srm.statistic, srm.p_value


def _samples_now(spec: ABTestSpec, arms: Sequence[ArmStats]) -> list[ArmSample] | None:
    """Each arm's sample of the success metric, once every arm has `min_samples` (else None)."""
    if any(_samples(spec.success_metric, arm) < spec.min_samples for arm in arms):
        return None
    samples = [arm.sample(spec.success_metric) for arm in arms]
    return [s for s in samples if s is not None] if all(s is not None for s in samples) else None


def sequential_look(spec: ABTestSpec, arms: Sequence[ArmStats], state: SequentialState) -> SequentialState:
    """The sequential tests after one more look at the success metric (unchanged before `min_samples`).

    Looks run whether or not the sequential test decides (`spec.sequential`),
    so the report always shows the always-valid figures beside the fixed ones.
    """
    samples = _samples_now(spec, arms)
    if samples is None:
        return state
    k = len(arms)
    return advance(
        state,
        samples[0],
        samples[1:],
        unit=unit_of(arms),
        alpha=spec.alpha / (k - 1),
        tau=spec.tau,
        mde=spec.mde,
        power=spec.power,
    )


def sequential_verdict(spec: ABTestSpec, arms: Sequence[ArmStats], state: SequentialState) -> Verdict:
    """What the sequential tests say now; never a decision while the split shows a sample-ratio mismatch."""
    if not state.tests:
        have = ", ".join(f"{arm_label(i)} has {_samples(spec.success_metric, a)}" for i, a in enumerate(arms))
        reason = f"not enough samples for {spec.success_metric}: {have} of {spec.min_samples} needed per arm"
        return Verdict("running", None, f"{reason} before the sequential test's first look", (), ())
    verdict = judge(
        state,
        alpha=spec.alpha,
        lower_is_better=spec.lower_is_better(spec.success_metric),
        mde=spec.mde,
        metric=spec.success_metric,
    )
    _, _, srm_p = _srm_p(spec, arms)
    if verdict.status != "running" and srm_p < SRM_ALPHA:
        reason = f"sample ratio mismatch (p={srm_p:.2g}): the split is off, no decision is trusted"
        return replace(verdict, status="running", winner=None, reason=reason)
    return verdict


def _comparisons(
    spec: ABTestSpec, arms: Sequence[ArmStats], unit: str
) -> tuple[dict[str, list[dict[str, object]]], list[Comparison | None]]:
    """Fixed-horizon rows per metric (Holm-adjusted across arms) and the success metric's comparisons."""
    k = len(arms)
    metrics = [*BUILTIN_METRICS, *sorted({m for arm in arms for m in arm.custom})]
    comparisons: dict[str, list[dict[str, object]]] = {}
    success: list[Comparison | None] = [None] * (k - 1)
    for metric in metrics:
        found = [(i, _compare(metric, arms[0], arms[i], spec.alpha / (k - 1), unit)) for i in range(1, k)]
        present = [(i, c) for i, c in found if c is not None]
        adjusted = holm([c.p_value for _, c in present], spec.alpha)
        rows = []
        for j, (i, c) in enumerate(present):
            held = replace(c, significant=adjusted.rejected[j] and c.n_a > 0 and c.n_b > 0)
            rows.append({"arm": arm_label(i), **held.as_dict(), "p_value_holm": adjusted.adjusted[j]})
            if metric == spec.success_metric:
                success[i - 1] = held
        comparisons[metric] = rows
    return comparisons, success


def analyze(
    spec: ABTestSpec,
    arms: Sequence[ArmStats],
    *,
    elapsed_s: float,
    ended: bool,
    sequential: SequentialState | None = None,
    covariates: Mapping[str, float] | None = None,
    decisions: Sequence[Mapping[str, object]] = (),
) -> dict[str, object]:
    """The full analysis: per-arm figures, comparisons per metric, SRM, sample rule, winner.

    The fixed-horizon `winner` is an arm label only when the success metric's
    difference is significant (Holm's step-down at alpha over the non-control
    arms), every arm has `min_samples`, and the split shows no sample-ratio
    mismatch. With `spec.sequential` the always-valid test decides instead
    (`decided_by`), from `sequential` (the state the actor carries; a fresh
    look when None). With sticky keys the unit is the key and every
    comparison uses delta-method variances over units. Otherwise None, and
    `reason` says why.
    """
    unit = unit_of(arms)
    comparisons, success = _comparisons(spec, arms, unit)
    srm_unit, srm_stat, srm_p = _srm_p(spec, arms)
    counts = [_samples(spec.success_metric, arm) for arm in arms]
    enough = all(n >= spec.min_samples for n in counts)
    fixed_winner, fixed_reason = _winner(spec, success, counts, enough, srm_p)
    state = sequential if sequential is not None else sequential_look(spec, arms, SequentialState())
    verdict = sequential_verdict(spec, arms, state)
    winner, reason = (
        (arm_label(verdict.winner) if verdict.winner is not None else None, verdict.reason)
        if spec.sequential
        else (fixed_winner, fixed_reason)
    )
    return {
        "test_id": spec.test_id,
        "success_metric": spec.success_metric,
        "alpha": spec.alpha,
        "arms": [_arm_report(spec, i, arm) for i, arm in enumerate(arms)],
        "comparisons": comparisons,
        "sample_ratio_mismatch": {
            "unit": srm_unit,
            "statistic": srm_stat,
            "p_value": srm_p,
            "mismatch": srm_p < SRM_ALPHA,
        },
        "min_samples": spec.min_samples,
        "enough_samples": enough,
        "winner": winner,
        "reason": reason,
        "elapsed_s": elapsed_s,
        "ended": ended,
        "decided_by": "sequential" if spec.sequential else "fixed_horizon",
        "unit": unit,
        "fixed_horizon": {"winner": fixed_winner, "reason": fixed_reason},
        **report_sections(spec, arms, unit, state, verdict, covariates or {}),
        "decisions": [dict(d) for d in decisions],
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
