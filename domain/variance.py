"""Variance for experiments whose unit is not the request: the delta method for ratios, and CUPED.

Both work from sufficient statistics (sums a store can keep as counters), so
an arm never holds its units' rows. Intervals and p-values use the normal
approximation, like `compare_rates`.

Delta method (Deng, Knoblich & Lu, "Applying the delta method in metric
analytics", 2018): with K units, unit i sending n_i requests with s_i
successes (or a sum s_i), the ratio R = Σs/Σn has

    Var(R) ≈ (Var(s) - 2R Cov(s, n) + R² Var(n)) / (K n̄²),   n̄ = Σn/K,

sample (K - 1) variances, which is Var(s - R n)/(K n̄²): the residuals
s_i - R n_i sum to zero, so their sample variance is
(Σs² - 2R Σns + R² Σn²)/(K - 1).

CUPED (Deng, Xu, Kohavi & Walker, 2013): with a pre-period covariate x per
unit, y_adj = y - θ (x - x̄) with θ = Cov(x, y)/Var(x) pooled within the arms,
so the difference is (ȳ_b - ȳ_a) - θ (x̄_b - x̄_a) and each arm's variance is
Var(y) - 2θ Cov(x, y) + θ² Var(x); with correlation rho the variance falls by
about rho².
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from statistics import NormalDist

__all__ = [
    "CupedResult",
    "CupedTotals",
    "RatioComparison",
    "RatioEstimate",
    "RatioTotals",
    "compare_ratios",
    "cuped",
    "delta_method_ratio",
]

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class RatioTotals:
    """One arm's per-unit sums for a ratio metric (units are users, requests are what they send).

    Attributes:
        units: K, the units seen.
        sum_n: Σ n_i, requests.
        sum_s: Σ s_i, successes (or the summed value).
        sum_n2: Σ n_i².
        sum_s2: Σ s_i².
        sum_ns: Σ n_i s_i.
    """

    units: int = 0
    sum_n: float = 0.0
    sum_s: float = 0.0
    sum_n2: float = 0.0
    sum_s2: float = 0.0
    sum_ns: float = 0.0

    def add(self, n: float, s: float) -> RatioTotals:
        """The totals with one more unit of `n` requests and `s` successes."""
        return replace(
            self,
            units=self.units + 1,
            sum_n=self.sum_n + n,
            sum_s=self.sum_s + s,
            sum_n2=self.sum_n2 + n * n,
            sum_s2=self.sum_s2 + s * s,
            sum_ns=self.sum_ns + n * s,
        )

    @classmethod
    def of(cls, units: Iterable[tuple[float, float]]) -> RatioTotals:
        """The totals of `(n_i, s_i)` pairs, one per unit."""
        totals = cls()
        for n, s in units:
            totals = totals.add(n, s)
        return totals


@dataclass(frozen=True, slots=True)
class RatioEstimate:
    """A ratio Σs/Σn and its delta-method standard error.

    Attributes:
        estimate: R = Σs/Σn (0 when there are no requests).
        std_error: the standard error of R (inf below 2 units or without requests).
        units: K.
    """

    estimate: float
    std_error: float
    units: int


def delta_method_ratio(totals: RatioTotals) -> RatioEstimate:
    """R = Σs/Σn with the delta-method standard error over units (module docstring)."""
    k = totals.units
    if totals.sum_n <= 0:
        return RatioEstimate(0.0, math.inf, k)
    r = totals.sum_s / totals.sum_n
    if k < 2:
        return RatioEstimate(r, math.inf, k)
    residual_var = max(0.0, (totals.sum_s2 - 2.0 * r * totals.sum_ns + r * r * totals.sum_n2) / (k - 1))
    nbar = totals.sum_n / k
    return RatioEstimate(r, (residual_var / (k * nbar * nbar)) ** 0.5, k)


@dataclass(frozen=True, slots=True)
class RatioComparison:
    """Ratio B against ratio A with unit-level (delta-method) uncertainty.

    Attributes:
        a: arm A's estimate.
        b: arm B's estimate.
        difference: R_b - R_a.
        std_error: sqrt(se_a² + se_b²) (the arms are independent).
        lower: lower end of the 1 - alpha interval of the difference.
        upper: upper end of it.
        p_value: two-sided p-value of no difference (z-test).
        alpha: the level of the interval.
    """

    a: RatioEstimate
    b: RatioEstimate
    difference: float
    std_error: float
    lower: float
    upper: float
    p_value: float
    alpha: float

    @property
    def significant(self) -> bool:
        """Whether p < alpha."""
        return self.p_value < self.alpha


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        msg = f"alpha: must be between 0 and 1 (got {alpha!r})"
        raise ValueError(msg)


def _z_interval(diff: float, se: float, alpha: float) -> tuple[float, float, float]:
    if se == math.inf:
        return -math.inf, math.inf, 1.0
    if se == 0.0:
        return diff, diff, 1.0 if diff == 0.0 else 0.0
    half = _NORMAL.inv_cdf(1.0 - alpha / 2.0) * se
    return diff - half, diff + half, 2.0 * (1.0 - _NORMAL.cdf(abs(diff) / se))


def compare_ratios(a: RatioTotals, b: RatioTotals, *, alpha: float = 0.05) -> RatioComparison:
    """B vs A on a ratio metric, with the units (not the requests) as the independent observations.

    Raises:
        ValueError: on an alpha outside (0, 1).
    """
    _check_alpha(alpha)
    ea, eb = delta_method_ratio(a), delta_method_ratio(b)
    diff = eb.estimate - ea.estimate
    se = (ea.std_error**2 + eb.std_error**2) ** 0.5
    lower, upper, p = _z_interval(diff, se, alpha)
    return RatioComparison(ea, eb, diff, se, lower, upper, p, alpha)


@dataclass(frozen=True, slots=True)
class CupedTotals:
    """One arm's per-unit sums of the metric y and its pre-period covariate x.

    Attributes:
        n: units.
        sum_x: Σ x_i.
        sum_y: Σ y_i.
        sum_x2: Σ x_i².
        sum_y2: Σ y_i².
        sum_xy: Σ x_i y_i.
    """

    n: int = 0
    sum_x: float = 0.0
    sum_y: float = 0.0
    sum_x2: float = 0.0
    sum_y2: float = 0.0
    sum_xy: float = 0.0

    def add(self, x: float, y: float) -> CupedTotals:
        """The totals with one more unit of covariate `x` and metric `y`."""
        return replace(
            self,
            n=self.n + 1,
            sum_x=self.sum_x + x,
            sum_y=self.sum_y + y,
            sum_x2=self.sum_x2 + x * x,
            sum_y2=self.sum_y2 + y * y,
            sum_xy=self.sum_xy + x * y,
        )

    @classmethod
    def of(cls, units: Iterable[tuple[float, float]]) -> CupedTotals:
        """The totals of `(x_i, y_i)` pairs, one per unit."""
        totals = cls()
        for x, y in units:
            totals = totals.add(x, y)
        return totals


def _centred(t: CupedTotals) -> tuple[float, float, float]:
    """Σ(x - x̄)², Σ(y - ȳ)², Σ(x - x̄)(y - ȳ) of one arm."""
    return (
        max(0.0, t.sum_x2 - t.sum_x * t.sum_x / t.n),
        max(0.0, t.sum_y2 - t.sum_y * t.sum_y / t.n),
        t.sum_xy - t.sum_x * t.sum_y / t.n,
    )


@dataclass(frozen=True, slots=True)
class CupedResult:
    """The CUPED-adjusted difference of means B - A beside the unadjusted one.

    Attributes:
        difference: (ȳ_b - ȳ_a) - theta · (x̄_b - x̄_a).
        std_error: its standard error.
        lower: lower end of the 1 - alpha interval.
        upper: upper end of it.
        p_value: two-sided p-value of no difference (z-test).
        theta: Cov(x, y)/Var(x), pooled within the arms.
        unadjusted_difference: ȳ_b - ȳ_a.
        unadjusted_std_error: its standard error.
        variance_reduction: 1 - std_error² / unadjusted_std_error², the share of variance removed
            (about rho² for a covariate of correlation rho with the metric).
        alpha: the level of the interval.
    """

    difference: float
    std_error: float
    lower: float
    upper: float
    p_value: float
    theta: float
    unadjusted_difference: float
    unadjusted_std_error: float
    variance_reduction: float
    alpha: float

    @property
    def significant(self) -> bool:
        """Whether p < alpha."""
        return self.p_value < self.alpha


def cuped(a: CupedTotals, b: CupedTotals, *, alpha: float = 0.05) -> CupedResult:
    """B vs A on a per-unit mean, adjusted by a pre-period covariate (module docstring).

    Raises:
        ValueError: on fewer than 2 units in an arm, or an alpha outside (0, 1).
    """
    _check_alpha(alpha)
    if a.n < 2 or b.n < 2:
        msg = f"cuped: each arm needs at least 2 units (got {a.n} and {b.n})"
        raise ValueError(msg)
    (sxx_a, syy_a, sxy_a), (sxx_b, syy_b, sxy_b) = _centred(a), _centred(b)
    sxx = sxx_a + sxx_b
    theta = (sxy_a + sxy_b) / sxx if sxx > 0 else 0.0

    def adjusted_var(sxx_arm: float, syy_arm: float, sxy_arm: float, n: int) -> float:
        return max(0.0, syy_arm - 2.0 * theta * sxy_arm + theta * theta * sxx_arm) / (n - 1)

    raw_diff = b.sum_y / b.n - a.sum_y / a.n
    diff = raw_diff - theta * (b.sum_x / b.n - a.sum_x / a.n)
    raw_se2 = syy_a / (a.n - 1) / a.n + syy_b / (b.n - 1) / b.n
    se2 = adjusted_var(sxx_a, syy_a, sxy_a, a.n) / a.n + adjusted_var(sxx_b, syy_b, sxy_b, b.n) / b.n
    se = se2**0.5
    lower, upper, p = _z_interval(diff, se, alpha)
    reduction = 1.0 - se2 / raw_se2 if raw_se2 > 0 else 0.0
    return CupedResult(diff, se, lower, upper, p, theta, raw_diff, raw_se2**0.5, reduction, alpha)
