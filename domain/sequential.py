"""Always-valid inference: the mixture SPRT and its confidence sequence, as pure functions.

The estimate of B - A after any number of observations is, to a normal
approximation, Δ̂ ~ N(θ, V) with V = s_a²/n_a + s_b²/n_b (s² the variance of
one observation in an arm). In information time I = 1/V the score S = Δ̂/V
has independent increments with Var(S) = I whatever the allocation path
(Cov(Δ̂ at an earlier look, Δ̂ at a later look) = V at the later one), so S is
a Brownian motion with drift θ in I, also for unequal and uneven arms.
Mixing its likelihood ratio against θ₀ over θ ~ N(θ₀, τ²) (Robbins' normal
mixture; Johari, Pekelis & Walsh, "Always valid inference", 2022) gives

    Λ = E over θ ~ N(θ₀, τ²) of exp((θ - θ₀)(S - θ₀ I) - (θ - θ₀)² I / 2)
      = sqrt(V / (V + τ²)) · exp(τ² (Δ̂ - θ₀)² / (2 V (V + τ²))),

a non-negative martingale with mean 1 under θ = θ₀, so by Ville's
inequality P(Λ ≥ 1/alpha at some look) ≤ alpha however often, and whenever,
it is read. With n per arm and one s² it is the paper's two-stream form
sqrt(2s² / (2s² + nτ²)) · exp(n²τ²Δ̂² / (4s²(2s² + nτ²))).

The always-valid p-value is the running minimum of min(1, 1/Λ) over looks;
the confidence sequence is {θ₀ : Λ(θ₀) < 1/alpha} =
Δ̂ ± sqrt(V (V + τ²)/τ² · (log((V + τ²)/V) + 2 log(1/alpha))). Each function
here reads one look; `SequentialTest` carries the running minimum and the
running intersection from look to look (that state is the caller's: an
experiment actor keeps one per comparison).

The guarantee is exact for Gaussian data with known variance; with a plug-in
variance and binary data it holds to the normal approximation (checked by
simulation in tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "SequentialResult",
    "SequentialTest",
    "msprt_difference",
    "msprt_means",
    "msprt_rates",
    "tau_for_horizon",
    "tau_from_mde",
]

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """The mixture SPRT of B - A = 0 read at one look.

    Attributes:
        difference: the estimate Δ̂ of B - A.
        variance: V, the variance of `difference` used by the test.
        likelihood_ratio: Λ, the mixture likelihood ratio against B - A = 0 (inf when V is 0 and Δ̂ is not).
        p_value: min(1, 1/Λ), the always-valid p-value of this look alone; the running minimum over
            looks (`SequentialTest.p_value`) is the one to report.
        lower: lower end of the confidence sequence for B - A at this look.
        upper: upper end of the confidence sequence for B - A at this look.
        alpha: the level of the test and of the confidence sequence (coverage 1 - alpha at all looks at once).
        tau: the standard deviation of the normal mixing distribution.
    """

    difference: float
    variance: float
    likelihood_ratio: float
    p_value: float
    lower: float
    upper: float
    alpha: float
    tau: float

    @property
    def decided(self) -> bool:
        """Whether this look alone rejects B - A = 0 (p ≤ alpha, equivalently 0 outside [lower, upper])."""
        return self.p_value <= self.alpha


@dataclass(frozen=True, slots=True)
class SequentialTest:
    """The state of a sequential test across looks: the running minimum p and intersected interval.

    Start with `SequentialTest()` and fold each look in with `observe`; the
    value is frozen, so the caller keeps the latest one. Once `decided`, it
    stays decided: that is what makes stopping at the first decision valid.

    The intersection of the looks' intervals is itself a confidence sequence;
    with a plug-in variance it can, rarely, come out empty (lower > upper),
    which says the normal model does not fit the data.

    Attributes:
        p_value: the always-valid p-value, min over looks of min(1, 1/Λ).
        lower: the greatest lower end seen.
        upper: the least upper end seen.
        looks: how many looks were folded in.
        alpha: the level, taken from the first look (every look must use the same one).
        tau: the mixing width, taken from the first look (changing it between looks, say after
            seeing the data, would void the guarantee).
    """

    p_value: float = 1.0
    lower: float = -math.inf
    upper: float = math.inf
    looks: int = 0
    alpha: float | None = None
    tau: float | None = None

    @property
    def decided(self) -> bool:
        """Whether some look so far rejected B - A = 0 at `alpha`."""
        return self.alpha is not None and self.p_value <= self.alpha

    def observe(self, look: SequentialResult) -> SequentialTest:
        """The state after one more look.

        Raises:
            ValueError: when the look's alpha or tau differs from the earlier looks'.
        """
        if self.alpha is not None and look.alpha != self.alpha:
            msg = f"alpha: every look must use the test's alpha {self.alpha!r} (got {look.alpha!r})"
            raise ValueError(msg)
        if self.tau is not None and look.tau != self.tau:
            msg = f"tau: every look must use the test's tau {self.tau!r} (got {look.tau!r})"
            raise ValueError(msg)
        return SequentialTest(
            p_value=min(self.p_value, look.p_value),
            lower=max(self.lower, look.lower),
            upper=min(self.upper, look.upper),
            looks=self.looks + 1,
            alpha=look.alpha,
            tau=look.tau,
        )


def _check(tau: float, alpha: float) -> None:
    if not (math.isfinite(tau) and tau > 0):
        msg = f"tau: must be a finite number > 0 (got {tau!r})"
        raise ValueError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha: must be between 0 and 1 (got {alpha!r})"
        raise ValueError(msg)


def _msprt(difference: float, variance: float, tau: float, alpha: float) -> SequentialResult:
    t2 = tau * tau
    if math.isinf(variance):  # no information yet: Λ = 1
        return SequentialResult(difference, variance, 1.0, 1.0, -math.inf, math.inf, alpha, tau)
    if variance <= 0.0:  # a point mass: Λ is 0 at Δ̂ = 0 and infinite elsewhere
        lr = 0.0 if difference == 0.0 else math.inf
        p = 1.0 if difference == 0.0 else 0.0
        return SequentialResult(difference, 0.0, lr, p, difference, difference, alpha, tau)
    log_lr = 0.5 * math.log(variance / (variance + t2)) + t2 * difference * difference / (
        2.0 * variance * (variance + t2)
    )
    lr = math.exp(log_lr) if log_lr < 700.0 else math.inf
    p = min(1.0, math.exp(-log_lr))
    half = math.sqrt(variance * (variance + t2) / t2 * (math.log1p(t2 / variance) + 2.0 * math.log(1.0 / alpha)))
    return SequentialResult(difference, variance, lr, p, difference - half, difference + half, alpha, tau)


def msprt_difference(difference: float, variance: float, *, tau: float, alpha: float = 0.05) -> SequentialResult:
    """The mixture SPRT and confidence sequence of B - A from an estimate and its variance, at one look.

    For estimates whose variance comes from elsewhere: the delta method over
    units (`variance.compare_ratios`), say, when one user sends many requests.
    A variance of inf means no information yet (Λ = 1).

    Raises:
        ValueError: on a tau that is not > 0, an alpha outside (0, 1), or a negative or NaN variance.
    """
    _check(tau, alpha)
    if math.isnan(variance) or variance < 0 or not math.isfinite(difference):
        msg = f"need a finite difference and a variance >= 0 (got {difference!r} and {variance!r})"
        raise ValueError(msg)
    return _msprt(difference, variance, tau, alpha)


def msprt_means(
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    *,
    tau: float,
    alpha: float = 0.05,
) -> SequentialResult:
    """The mixture SPRT and confidence sequence of mean(B) - mean(A) at one look.

    V = var_a/n_a + var_b/n_b with the per-observation (sample) variances; an
    arm with no observations gives Λ = 1 and an unbounded interval.

    Args:
        mean_a: sample mean of arm A.
        var_a: sample variance of one observation in arm A.
        n_a: observations in arm A.
        mean_b: sample mean of arm B.
        var_b: sample variance of one observation in arm B.
        n_b: observations in arm B.
        tau: standard deviation of the normal mixing distribution, in the metric's units
            (see `tau_from_mde`).
        alpha: level of the test and of the confidence sequence.

    Raises:
        ValueError: on a tau that is not > 0, an alpha outside (0, 1), or negative counts or variances.
    """
    _check(tau, alpha)
    if n_a < 0 or n_b < 0 or var_a < 0 or var_b < 0:
        msg = f"counts and variances must be >= 0 (got n_a={n_a}, n_b={n_b}, var_a={var_a}, var_b={var_b})"
        raise ValueError(msg)
    if n_a == 0 or n_b == 0:
        return _msprt(0.0, math.inf, tau, alpha)
    return _msprt(mean_b - mean_a, var_a / n_a + var_b / n_b, tau, alpha)


def msprt_rates(
    successes_a: int, n_a: int, successes_b: int, n_b: int, *, tau: float, alpha: float = 0.05
) -> SequentialResult:
    """The mixture SPRT and confidence sequence of rate(B) - rate(A) at one look.

    The difference is that of the raw rates; its variance is the unpooled
    p̃(1 - p̃)/n summed over the arms with p̃ = (s + 1)/(n + 2) (one success and
    one failure added per arm, as in the Agresti-Caffo interval), so that a
    look with no successes yet, or no failures, does not claim a variance of
    zero. The interval is clipped to [-1, 1].

    Args:
        successes_a: successes in arm A.
        n_a: trials in arm A.
        successes_b: successes in arm B.
        n_b: trials in arm B.
        tau: standard deviation of the normal mixing distribution, on the rate scale
            (see `tau_from_mde`).
        alpha: level of the test and of the confidence sequence.

    Raises:
        ValueError: on a tau that is not > 0, an alpha outside (0, 1), or counts out of range.
    """
    _check(tau, alpha)
    if not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b):
        msg = f"need 0 <= successes <= n per arm (got {successes_a}/{n_a} and {successes_b}/{n_b})"
        raise ValueError(msg)
    if n_a == 0 or n_b == 0:
        result = _msprt(0.0, math.inf, tau, alpha)
    else:
        pa, pb = (successes_a + 1) / (n_a + 2), (successes_b + 1) / (n_b + 2)
        variance = pa * (1.0 - pa) / n_a + pb * (1.0 - pb) / n_b
        result = _msprt(successes_b / n_b - successes_a / n_a, variance, tau, alpha)
    return _clip(result)


def _clip(r: SequentialResult) -> SequentialResult:
    return SequentialResult(
        r.difference, r.variance, r.likelihood_ratio, r.p_value, max(-1.0, r.lower), min(1.0, r.upper), r.alpha, r.tau
    )


def _best_ratio(alpha: float) -> float:
    """The ratio r = τ²/V minimising the interval's width at one look: the root of r = 2 log(1/alpha) + log(1 + r)."""
    c = 2.0 * math.log(1.0 / alpha)
    r = c + 1.0
    for _ in range(100):  # a contraction (derivative 1/(1 + r) < 1): converges fast
        nxt = c + math.log1p(r)
        if abs(nxt - r) < 1e-12:
            break
        r = nxt
    return r


def tau_for_horizon(variance: float, alpha: float = 0.05) -> float:
    """The mixing τ that makes the confidence sequence narrowest when the estimate's variance is `variance`.

    The half-width squared is V · (1 + 1/r) · (log(1 + r) + 2 log(1/alpha)) with
    r = τ²/V; it is least at the root r* of r = 2 log(1/alpha) + log(1 + r)
    (r* ≈ 8.21 at alpha = 0.05), so τ = sqrt(r* · V). Pass the V expected at the
    planned horizon (e.g. s_a²/n_a + s_b²/n_b at the planned n).

    Raises:
        ValueError: on a variance that is not finite and > 0, or an alpha outside (0, 1).
    """
    if not (math.isfinite(variance) and variance > 0):
        msg = f"variance: must be a finite number > 0 (got {variance!r})"
        raise ValueError(msg)
    _check(1.0, alpha)
    return math.sqrt(_best_ratio(alpha) * variance)


def tau_from_mde(mde: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The mixing τ for a test planned to detect an effect of `mde` (in the metric's units).

    The fixed-horizon test with this power needs the estimate's variance to
    fall to V_h = (mde / (z_{1-alpha/2} + z_{power}))²; `tau_for_horizon(V_h)` makes
    the confidence sequence narrowest there. At alpha = 0.05 and power 0.8 this is
    τ ≈ 1.02 · mde, so it agrees with the usual rule of thumb τ = mde while
    saying why: the mixture is tuned to the horizon a fixed test would have
    needed, and the sequential test typically stops before it for effects of
    that size or larger. The choice does not affect validity, only speed.

    Raises:
        ValueError: on an mde of 0 or not finite, or alpha or power outside (0, 1).
    """
    if not (math.isfinite(mde) and mde != 0):
        msg = f"mde: must be a finite non-zero number (got {mde!r})"
        raise ValueError(msg)
    if not 0 < power < 1:
        msg = f"power: must be between 0 and 1 (got {power!r})"
        raise ValueError(msg)
    _check(1.0, alpha)
    z = _NORMAL.inv_cdf(1.0 - alpha / 2.0) + _NORMAL.inv_cdf(power)
    return tau_for_horizon((mde / z) ** 2, alpha)
