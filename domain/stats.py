"""Statistics for experiments, as pure functions (checked against scipy.stats in tests).

Distributions: the normal from `statistics.NormalDist`; Student's t and
chi-square through the regularised incomplete beta and gamma functions
(Numerical Recipes' continued fractions). Tests: Welch's t-test on means,
the two-proportion z-test on rates, a chi-square goodness-of-fit test for
sample-ratio mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "Comparison",
    "RunningStats",
    "Summary",
    "TestResult",
    "chi2_sf",
    "compare_means",
    "compare_rates",
    "mean_interval",
    "sample_ratio_mismatch",
    "t_cdf",
    "t_ppf",
    "two_proportion_z_test",
    "welch_t_test",
    "wilson_interval",
]

_NORMAL = NormalDist()
_EPS = 1e-14
_MAX_ITER = 300


@dataclass(frozen=True, slots=True)
class Summary:
    """Count, mean and sample variance of a sample."""

    n: int
    mean: float
    variance: float

    @property
    def std_error(self) -> float:
        """Standard error of the mean (inf for fewer than 2 samples)."""
        return math.sqrt(self.variance / self.n) if self.n >= 2 else math.inf


class RunningStats:
    """Welford's online mean and variance: O(1) memory, numerically stable."""

    __slots__ = ("_m2", "mean", "n")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._m2 = 0.0

    def add(self, value: float) -> None:
        """Fold in one observation."""
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (value - self.mean)

    def summary(self) -> Summary:
        """A frozen snapshot."""
        variance = self._m2 / (self.n - 1) if self.n >= 2 else 0.0
        return Summary(self.n, self.mean, variance)

    def sums(self) -> tuple[int, float, float]:
        """(n, Σx, Σx²): additive across writers, what a state store keeps."""
        return self.n, self.mean * self.n, self._m2 + self.n * self.mean * self.mean

    @classmethod
    def from_sums(cls, n: int, total: float, squares: float) -> RunningStats:
        """The statistics of `n` values with sum `total` and sum of squares `squares` (see `sums`)."""
        made = cls()
        if n > 0:
            made.n = n
            made.mean = total / n
            made._m2 = max(squares - total * total / n, 0.0)
        return made


@dataclass(frozen=True, slots=True)
class TestResult:
    """A test statistic and its two-sided p-value."""

    statistic: float
    p_value: float
    df: float | None = None


# --- special functions ----------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, _MAX_ITER + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def _betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """Regularised incomplete beta I_x(a, b); pass `y = 1 - x` when it is known more precisely."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, y) / b


def _gammainc_upper(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x)."""
    if x <= 0.0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        ap = a
        for _ in range(_MAX_ITER):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    b = x + 1.0 - a  # continued fraction for Q
    c = 1.0 / 1e-300
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER + 1):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = b + an / c
        c = c if abs(c) > 1e-300 else 1e-300
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(log_front) * h


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t with `df` degrees of freedom."""
    if math.isinf(df):
        return _NORMAL.cdf(t)
    t2 = t * t
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))
    return 1.0 - tail if t > 0 else tail


def t_ppf(p: float, df: float) -> float:
    """Inverse CDF of Student's t (bisection on `t_cdf`, to 1e-10)."""
    if not 0.0 < p < 1.0:
        msg = f"p: must be in (0, 1) (got {p!r})"
        raise ValueError(msg)
    if math.isinf(df):
        return _NORMAL.inv_cdf(p)
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > p:
        lo *= 2.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-10:
            break
    return (lo + hi) / 2.0


def chi2_sf(x: float, df: float) -> float:
    """Survival function (1 - CDF) of chi-square with `df` degrees of freedom."""
    return _gammainc_upper(df / 2.0, x / 2.0)


# --- tests and intervals --------------------------------------------------------


def welch_t_test(a: Summary, b: Summary) -> TestResult:
    """Welch's unequal-variance t-test of mean(b) - mean(a); two-sided."""
    if a.n < 2 or b.n < 2:
        return TestResult(0.0, 1.0, None)
    va, vb = a.variance / a.n, b.variance / b.n
    se2 = va + vb
    if se2 == 0.0:
        same = a.mean == b.mean
        return TestResult(0.0 if same else math.copysign(math.inf, b.mean - a.mean), 1.0 if same else 0.0, None)
    t = (b.mean - a.mean) / math.sqrt(se2)
    df = se2 * se2 / (va * va / (a.n - 1) + vb * vb / (b.n - 1))
    return TestResult(t, 2.0 * (1.0 - t_cdf(abs(t), df)), df)


def two_proportion_z_test(successes_a: int, n_a: int, successes_b: int, n_b: int) -> TestResult:
    """Pooled two-proportion z-test of p_b - p_a; two-sided."""
    if n_a == 0 or n_b == 0:
        return TestResult(0.0, 1.0)
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    diff = successes_b / n_b - successes_a / n_a
    if se == 0.0:
        return TestResult(0.0, 1.0)
    z = diff / se
    return TestResult(z, 2.0 * (1.0 - _NORMAL.cdf(abs(z))))


def mean_interval(s: Summary, confidence: float = 0.95) -> tuple[float, float]:
    """t-based confidence interval of the mean (infinite below 2 samples)."""
    if s.n < 2:
        return (-math.inf, math.inf)
    half = t_ppf(0.5 + confidence / 2.0, s.n - 1) * s.std_error
    return (s.mean - half, s.mean + half)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (good at small n and extreme rates)."""
    if n == 0:
        return (0.0, 1.0)
    z = _NORMAL.inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def sample_ratio_mismatch(observed: Sequence[int], weights: Sequence[float]) -> TestResult:
    """Chi-square goodness-of-fit of assignment counts against the configured split."""
    total = sum(observed)
    weight_sum = sum(weights)
    if total == 0 or weight_sum <= 0 or len(observed) < 2:
        return TestResult(0.0, 1.0, None)
    stat = 0.0
    for count, weight in zip(observed, weights, strict=True):
        expected = total * weight / weight_sum
        if expected > 0:
            stat += (count - expected) ** 2 / expected
    df = len(observed) - 1
    return TestResult(stat, chi2_sf(stat, df), df)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Arm B against arm A on one metric."""

    metric: str
    kind: str
    a_value: float
    a_interval: tuple[float, float]
    b_value: float
    b_interval: tuple[float, float]
    difference: float
    difference_interval: tuple[float, float]
    relative_lift: float | None
    p_value: float
    significant: bool
    n_a: int
    n_b: int

    def as_dict(self) -> dict[str, object]:
        """Plain data for reports and JSON."""
        return {
            "metric": self.metric,
            "kind": self.kind,
            "a": {"value": self.a_value, "ci95": list(self.a_interval), "n": self.n_a},
            "b": {"value": self.b_value, "ci95": list(self.b_interval), "n": self.n_b},
            "difference": self.difference,
            "difference_ci95": list(self.difference_interval),
            "relative_lift": self.relative_lift,
            "p_value": self.p_value,
            "significant": self.significant,
        }


def _lift(a: float, diff: float) -> float | None:
    return diff / a if a != 0 else None


def compare_means(metric: str, a: Summary, b: Summary, *, alpha: float = 0.05) -> Comparison:
    """B vs A on a continuous metric (Welch's t-test, t-based intervals)."""
    test = welch_t_test(a, b)
    diff = b.mean - a.mean
    if test.df is None:
        diff_ci = (-math.inf, math.inf) if a.n < 2 or b.n < 2 else (diff, diff)
    else:
        half = t_ppf(1.0 - alpha / 2.0, test.df) * math.sqrt(a.variance / a.n + b.variance / b.n)
        diff_ci = (diff - half, diff + half)
    return Comparison(
        metric=metric,
        kind="mean",
        a_value=a.mean,
        a_interval=mean_interval(a, 1.0 - alpha),
        b_value=b.mean,
        b_interval=mean_interval(b, 1.0 - alpha),
        difference=diff,
        difference_interval=diff_ci,
        relative_lift=_lift(a.mean, diff),
        p_value=test.p_value,
        significant=test.p_value < alpha,
        n_a=a.n,
        n_b=b.n,
    )


def compare_rates(metric: str, x_a: int, n_a: int, x_b: int, n_b: int, *, alpha: float = 0.05) -> Comparison:
    """B vs A on a proportion (two-proportion z-test, Wilson and Wald intervals)."""
    test = two_proportion_z_test(x_a, n_a, x_b, n_b)
    p_a = x_a / n_a if n_a else 0.0
    p_b = x_b / n_b if n_b else 0.0
    diff = p_b - p_a
    if n_a and n_b:
        z = _NORMAL.inv_cdf(1.0 - alpha / 2.0)
        half = z * math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        diff_ci = (diff - half, diff + half)
    else:
        diff_ci = (-1.0, 1.0)
    return Comparison(
        metric=metric,
        kind="rate",
        a_value=p_a,
        a_interval=wilson_interval(x_a, n_a, 1.0 - alpha),
        b_value=p_b,
        b_interval=wilson_interval(x_b, n_b, 1.0 - alpha),
        difference=diff,
        difference_interval=diff_ci,
        relative_lift=_lift(p_a, diff),
        p_value=test.p_value,
        significant=test.p_value < alpha and n_a > 0 and n_b > 0,
        n_a=n_a,
        n_b=n_b,
    )
