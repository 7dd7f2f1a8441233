"""Fixed-horizon planning: the sample size per arm for an effect, and the effect detectable at a sample size.

Both sides of a two-sided test at level alpha with the given power, equal arms:

- rates (p1 = baseline, p2 = baseline + mde, p̄ = (p1 + p2)/2, q = 1 - p):
  n = (z_{1-alpha/2} · sqrt(2 p̄ q̄) + z_{power} · sqrt(p1 q1 + p2 q2))² / mde²,
  the standard closed form for the pooled two-proportion z-test (the null
  variance under z_{1-alpha/2}, the alternative's under z_{power}; Fleiss,
  "Statistical methods for rates and proportions", without continuity correction);
- means (one standard deviation `std` for both arms):
  n = 2 (z_{1-alpha/2} + z_{power})² std² / mde².

The sample size is rounded up; the far tail's contribution to the power is
ignored (below 1e-6 at any sensible power).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

__all__ = ["minimum_detectable_effect", "required_sample_size"]

_NORMAL = NormalDist()

Kind = Literal["rate", "mean"]


def _z(alpha: float, power: float) -> tuple[float, float]:
    if not 0 < alpha < 1:
        msg = f"alpha: must be between 0 and 1 (got {alpha!r})"
        raise ValueError(msg)
    if not 0 < power < 1:
        msg = f"power: must be between 0 and 1 (got {power!r})"
        raise ValueError(msg)
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0), _NORMAL.inv_cdf(power)


def _std(kind: str, std: float | None) -> float:
    if kind == "mean":
        if std is None or not (math.isfinite(std) and std > 0):
            msg = f"std: kind 'mean' needs a finite std > 0 (got {std!r})"
            raise ValueError(msg)
        return std
    if kind != "rate":
        msg = f"kind: must be 'rate' or 'mean' (got {kind!r})"
        raise ValueError(msg)
    return math.nan


def _rate_n(p1: float, mde: float, z_alpha: float, z_power: float) -> float:
    p2 = p1 + mde
    pbar = (p1 + p2) / 2.0
    root = z_alpha * math.sqrt(2.0 * pbar * (1.0 - pbar)) + z_power * math.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2))
    return root * root / (mde * mde)


def required_sample_size(
    baseline: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    kind: Kind = "rate",
    *,
    std: float | None = None,
) -> int:
    """Units per arm a fixed-horizon test needs to detect an absolute effect of `mde` (module docstring).

    Args:
        baseline: the control's rate (kind "rate"), in (0, 1); for kind "mean" it does not enter.
        mde: the absolute difference B - A to detect (either sign); for rates baseline + mde must be in (0, 1).
        alpha: two-sided significance level.
        power: probability of detecting an effect of `mde`.
        kind: "rate" (two-proportion z-test) or "mean" (z-test on means with a known `std`).
        std: standard deviation of one observation, for kind "mean".

    Raises:
        ValueError: on arguments out of range, or kind "mean" without a std.
    """
    z_alpha, z_power = _z(alpha, power)
    sd = _std(kind, std)
    if not (math.isfinite(mde) and mde != 0):
        msg = f"mde: must be a finite non-zero number (got {mde!r})"
        raise ValueError(msg)
    if kind == "mean":
        n = 2.0 * (z_alpha + z_power) ** 2 * sd * sd / (mde * mde)
    else:
        if not (0 < baseline < 1 and 0 < baseline + mde < 1):
            msg = f"baseline and baseline + mde: must be rates in (0, 1) (got {baseline!r} and {baseline + mde!r})"
            raise ValueError(msg)
        n = _rate_n(baseline, mde, z_alpha, z_power)
    return max(1, math.ceil(n - 1e-9))  # 1e-9: a float a hair above an integer is that integer


def minimum_detectable_effect(
    n: int,
    baseline: float,
    alpha: float = 0.05,
    power: float = 0.8,
    kind: Kind = "rate",
    *,
    std: float | None = None,
) -> float:
    """The smallest absolute increase B - A that `n` units per arm detect (the inverse of `required_sample_size`).

    For means it is (z_{1-alpha/2} + z_{power}) · std · sqrt(2/n); for rates the
    positive root of the rate formula in mde, found by bisection, or inf when
    no rate up to 1 is detectable with `n`. The effect is upward from the
    baseline; for a decrease, plan on the complementary rate (1 - baseline).

    Args:
        n: units per arm.
        baseline: the control's rate (kind "rate"), in (0, 1); for kind "mean" it does not enter.
        alpha: two-sided significance level.
        power: probability of detecting the effect.
        kind: "rate" or "mean".
        std: standard deviation of one observation, for kind "mean".

    Raises:
        ValueError: on arguments out of range, or kind "mean" without a std.
    """
    z_alpha, z_power = _z(alpha, power)
    sd = _std(kind, std)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        msg = f"n: must be an integer >= 1 (got {n!r})"
        raise ValueError(msg)
    if kind == "mean":
        return (z_alpha + z_power) * sd * math.sqrt(2.0 / n)
    if not 0 < baseline < 1:
        msg = f"baseline: must be a rate in (0, 1) (got {baseline!r})"
        raise ValueError(msg)
    lo, hi = 0.0, 1.0 - baseline
    if _rate_n(baseline, hi, z_alpha, z_power) > n:
        return math.inf
    for _ in range(200):  # n(mde) falls as mde grows on (0, 1 - baseline]
        mid = (lo + hi) / 2.0
        if _rate_n(baseline, mid, z_alpha, z_power) > n:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return hi
