"""An A/B test's statistics beyond the fixed horizon: always-valid looks, the unit, CUPED and planning.

Works on `ArmSample`s (one arm's data on one metric at one moment), so it
knows nothing of how an arm counts; `domain.abtest` builds the samples and
folds these figures into its report.

- Sequential: each comparison (arm i against the control) carries a
  `SequentialTest` from look to look (`advance`); `judge` turns the running
  always-valid p-values (Holm-adjusted across arms) and confidence sequences
  into a verdict: a winner, futility (every confidence sequence inside
  ±mde), or still running.
- The unit: with sticky keys, a key (user) is one observation and variances
  come from the delta method over units (`domain.variance.compare_ratios`);
  without keys, the request is.
- CUPED on per-unit values with a pre-period covariate; planning (the MDE at
  the current sample, the samples a configured MDE still needs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from actorserve.domain.multiplicity import holm
from actorserve.domain.planning import Kind, minimum_detectable_effect, required_sample_size
from actorserve.domain.sequential import (
    SequentialResult,
    SequentialTest,
    msprt_difference,
    msprt_means,
    msprt_rates,
    tau_for_horizon,
    tau_from_mde,
)
from actorserve.domain.stats import Comparison, Summary
from actorserve.domain.variance import CupedTotals, RatioTotals, compare_ratios, cuped, delta_method_ratio

__all__ = [
    "HORIZON_FACTOR",
    "ArmSample",
    "SequentialState",
    "Verdict",
    "advance",
    "cuped_report",
    "judge",
    "may_decide",
    "planning_report",
    "unit_comparison",
]

_NORMAL = NormalDist()

HORIZON_FACTOR = 10.0
"""Without tau or mde, tau is tuned to a horizon of this many times the first look's sample."""


@dataclass(frozen=True, slots=True)
class ArmSample:
    """One arm's data on one metric at one moment.

    Attributes:
        kind: "rate" (successes out of n) or "mean".
        n: observations (requests, or outcomes for a custom metric).
        successes: for rates, the successes among them (failures, for `error_rate`).
        summary: for means, count, mean and variance of the observations.
        units: the unit-level totals (`domain.units`).
    """

    kind: str
    n: int
    successes: int
    summary: Summary
    units: RatioTotals


def _look(a: ArmSample, b: ArmSample, unit: str, tau: float, alpha: float) -> SequentialResult:
    if unit == "key":
        c = compare_ratios(a.units, b.units, alpha=alpha)
        variance = c.std_error**2 if math.isfinite(c.std_error) else math.inf
        return msprt_difference(c.difference if math.isfinite(variance) else 0.0, variance, tau=tau, alpha=alpha)
    if a.kind == "rate":
        return msprt_rates(a.successes, a.n, b.successes, b.n, tau=tau, alpha=alpha)
    sa, sb = a.summary, b.summary
    return msprt_means(sa.mean, sa.variance, sa.n, sb.mean, sb.variance, sb.n, tau=tau, alpha=alpha)


@dataclass(frozen=True, slots=True)
class SequentialState:
    """The sequential tests of every comparison, carried from look to look (a frozen value).

    Attributes:
        tests: one `SequentialTest` per non-control arm, in arm order.
        tau_source: where tau came from: "tau", "mde", or "first look" (tuned to
            `HORIZON_FACTOR` times the first look's sample).
        last: each comparison's reading at the latest look.
    """

    tests: tuple[SequentialTest, ...] = ()
    tau_source: str = ""
    last: tuple[SequentialResult, ...] = ()


def advance(
    state: SequentialState,
    control: ArmSample,
    others: Sequence[ArmSample],
    *,
    unit: str,
    alpha: float,
    tau: float | None = None,
    mde: float | None = None,
    power: float = 0.8,
) -> SequentialState:
    """One look at every comparison: the state after it (with each comparison's reading in `last`).

    Tau is fixed at the first look and kept (changing it after seeing data
    would void the guarantee): `tau` if given, else `tau_from_mde(mde)`, else
    tuned to the first look's variance divided by `HORIZON_FACTOR` (1.0 when
    that variance is 0, as with identical outcomes).

    Args:
        state: the state after the previous look (`SequentialState()` before the first).
        control: the control's sample.
        others: every other arm's sample, in arm order.
        unit: "request" or "key".
        alpha: the level of each confidence sequence (the family's alpha over the comparisons).
        tau: the mixing width, if configured.
        mde: the minimum detectable effect, if configured.
        power: the power the mde is planned with.
    """
    tests = state.tests or tuple(SequentialTest() for _ in others)
    source = state.tau_source or ("tau" if tau is not None else "mde" if mde is not None else "first look")
    new_tests: list[SequentialTest] = []
    results: list[SequentialResult] = []
    for test, sample in zip(tests, others, strict=True):
        width = test.tau
        if width is None:
            if tau is not None:
                width = tau
            elif mde is not None:
                width = tau_from_mde(mde, alpha=alpha, power=power)
            else:
                v = _look(control, sample, unit, 1.0, alpha).variance
                width = tau_for_horizon(v / HORIZON_FACTOR, alpha) if math.isfinite(v) and v > 0 else 1.0
        result = _look(control, sample, unit, width, alpha)
        results.append(result)
        new_tests.append(test.observe(result))
    return SequentialState(tuple(new_tests), source, tuple(results))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the sequential tests say now.

    Attributes:
        status: "running", "winner" or "futility".
        winner: the winning arm's index (0 for the control) when status is "winner".
        reason: a sentence with the numbers.
        adjusted: Holm-adjusted always-valid p-values, per comparison.
        decided: per comparison, whether it rejects no difference at the family alpha.
    """

    status: str
    winner: int | None
    reason: str
    adjusted: tuple[float, ...]
    decided: tuple[bool, ...]


def judge(
    state: SequentialState,
    *,
    alpha: float,
    lower_is_better: bool,
    mde: float | None,
    metric: str,
) -> Verdict:
    """The verdict of the sequential tests after their latest look.

    A comparison whose Holm-adjusted always-valid p-value is at most `alpha`
    is decided, for the arm whose estimate is better. The best decided arm
    better than the control wins; if every comparison is decided against its
    arm, the control wins; if every undecided one has its confidence sequence
    inside (-mde, mde), it is futility (no effect of the mde or more); else
    the test runs on.
    """
    if not state.tests:
        return Verdict("running", None, "no look yet", (), ())
    h = holm([t.p_value for t in state.tests], alpha)
    results = state.last

    def better(r: SequentialResult) -> bool:
        return r.difference < 0 if lower_is_better else r.difference > 0

    winners = [i for i, r in enumerate(results) if h.rejected[i] and better(r)]
    if winners:
        best = min(winners, key=lambda i: results[i].difference if lower_is_better else -results[i].difference)
        label = chr(ord("B") + best)
        reason = (
            f"{label} is better on {metric} by the sequential test "
            f"(always-valid p={state.tests[best].p_value:.2g}, Holm-adjusted {h.adjusted[best]:.2g} <= {alpha:g})"
        )
        return Verdict("winner", best + 1, reason, h.adjusted, h.rejected)
    if all(h.rejected):
        reason = f"A is better on {metric} than every other arm (sequential test)"
        return Verdict("winner", 0, reason, h.adjusted, h.rejected)
    if mde is not None and all(h.rejected[i] or (-mde < t.lower and t.upper < mde) for i, t in enumerate(state.tests)):
        spans = ", ".join(f"[{t.lower:.3g}, {t.upper:.3g}]" for t in state.tests)
        return Verdict(
            "futility",
            None,
            f"futility: no effect of {mde:g} or more on {metric} (confidence sequences {spans})",
            h.adjusted,
            h.rejected,
        )
    best_p = min(t.p_value for t in state.tests)
    reason = f"sequential test undecided on {metric} (always-valid p={best_p:.2g})"
    return Verdict("running", None, reason, h.adjusted, h.rejected)


def may_decide(state: SequentialState, *, alpha: float, mde: float | None) -> bool:
    """A cheap necessary condition for `judge` to decide: some p <= alpha, or every interval inside ±mde.

    Holm rejects nothing unless the smallest p-value is at most alpha, so a
    caller looking after every answer can skip the verdict until this holds.
    """
    if any(t.p_value <= alpha for t in state.tests):
        return True
    return mde is not None and bool(state.tests) and all(-mde < t.lower and t.upper < mde for t in state.tests)


def unit_comparison(metric: str, a: ArmSample, b: ArmSample, *, alpha: float) -> Comparison:
    """The fixed-horizon comparison with keys (units) as the observations: delta-method intervals and z-test."""
    c = compare_ratios(a.units, b.units, alpha=alpha)
    z = _NORMAL.inv_cdf(1.0 - alpha / 2.0)

    def interval(estimate: float, se: float) -> tuple[float, float]:
        return (estimate - z * se, estimate + z * se) if math.isfinite(se) else (-math.inf, math.inf)

    return Comparison(
        metric=metric,
        kind="ratio",
        a_value=c.a.estimate,
        a_interval=interval(c.a.estimate, c.a.std_error),
        b_value=c.b.estimate,
        b_interval=interval(c.b.estimate, c.b.std_error),
        difference=c.difference,
        difference_interval=(c.lower, c.upper),
        relative_lift=c.difference / c.a.estimate if c.a.estimate != 0 else None,
        p_value=c.p_value,
        significant=c.significant and a.units.units >= 2 and b.units.units >= 2,
        n_a=a.units.units,
        n_b=b.units.units,
    )


def cuped_report(
    control: Sequence[tuple[float, float]], others: Sequence[Sequence[tuple[float, float]]], *, alpha: float
) -> list[dict[str, object]]:
    """CUPED rows per non-control arm, from `(covariate, value)` pairs per unit (arms with < 2 units skipped)."""
    rows: list[dict[str, object]] = []
    a = CupedTotals.of(control)
    for i, pairs in enumerate(others):
        b = CupedTotals.of(pairs)
        if a.n < 2 or b.n < 2:
            continue
        r = cuped(a, b, alpha=alpha)
        rows.append(
            {
                "arm": chr(ord("B") + i),
                "units_a": a.n,
                "units_b": b.n,
                "difference": r.difference,
                "difference_ci": [r.lower, r.upper],
                "std_error": r.std_error,
                "p_value": r.p_value,
                "significant": r.significant,
                "theta": r.theta,
                "unadjusted_difference": r.unadjusted_difference,
                "unadjusted_std_error": r.unadjusted_std_error,
                "variance_reduction": r.variance_reduction,
            }
        )
    return rows


def _effective_n(sample: ArmSample, unit: str) -> tuple[float, float | None]:
    """Request-equivalent sample size and the per-observation std (None for rates)."""
    if sample.kind == "rate":
        p = sample.successes / sample.n if sample.n else 0.0
        per_obs = p * (1.0 - p)
        std = None
    else:
        per_obs = sample.summary.variance
        std = math.sqrt(per_obs) if per_obs > 0 else None
    if unit != "key":
        return float(sample.n), std
    se = delta_method_ratio(sample.units).std_error
    if not math.isfinite(se) or se <= 0 or per_obs <= 0:
        return float(sample.n if se == 0 else 0), std
    return per_obs / (se * se), std


def planning_report(
    control: ArmSample,
    others: Sequence[ArmSample],
    *,
    unit: str,
    alpha: float,
    power: float,
    mde: float | None,
    lower_is_better: bool,
) -> dict[str, object]:
    """Fixed-horizon planning at the current sample: the MDE now, and what the configured MDE still needs.

    Sample sizes are per arm in requests (outcomes for custom metrics); with
    keys as the unit, an arm's effective size is its per-request variance over
    the delta-method variance of its mean, so clustered users count for less.
    """
    arms = [control, *others]
    sizes = [_effective_n(s, unit) for s in arms]
    n_now = min(n for n, _ in sizes)
    kind = control.kind
    baseline = (control.successes / control.n if control.n else None) if kind == "rate" else None
    std = sizes[0][1]
    out: dict[str, object] = {
        "kind": kind,
        "alpha": alpha,
        "power": power,
        "baseline": baseline if kind == "rate" else (control.summary.mean if control.n else None),
        "effective_n_per_arm": [round(n, 1) for n, _ in sizes],
        "mde_at_current_n": None,
        "mde": mde,
        "required_n_per_arm": None,
        "samples_still_needed": None,
    }
    usable = (kind == "rate" and baseline is not None and 0 < baseline < 1) or (kind == "mean" and std is not None)
    if not usable:
        return out
    rate_base = baseline if baseline is not None else 0.5
    plan_kind: Kind = "rate" if kind == "rate" else "mean"
    if n_now >= 1:
        base = 1.0 - rate_base if lower_is_better and kind == "rate" else rate_base
        out["mde_at_current_n"] = minimum_detectable_effect(math.floor(n_now), base, alpha, power, plan_kind, std=std)
    if mde is not None:
        try:
            required = required_sample_size(
                rate_base, -mde if lower_is_better else mde, alpha, power, plan_kind, std=std
            )
        except ValueError:
            return out
        out["required_n_per_arm"] = required
        out["samples_still_needed"] = max(0, math.ceil(required - n_now))
    return out
