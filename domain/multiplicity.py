"""Multiple comparisons: Holm's step-down adjustment, for an A/B/n test's arms against the control."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HolmResult", "holm"]


@dataclass(frozen=True, slots=True)
class HolmResult:
    """Holm-adjusted p-values and rejections, in the order the p-values were given.

    Attributes:
        adjusted: each hypothesis's adjusted p-value (compare it with alpha directly).
        rejected: whether each hypothesis is rejected at `alpha` (adjusted ≤ alpha).
        alpha: the family-wise error rate controlled.
    """

    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]
    alpha: float


def holm(p_values: Sequence[float], alpha: float = 0.05) -> HolmResult:
    """Holm's step-down procedure: family-wise error rate `alpha` under any dependence.

    With the m p-values sorted ascending p_(1) ≤ ... ≤ p_(m), the adjusted
    value of the i-th is max over j ≤ i of min(1, (m - j + 1) · p_(j)); the
    i-th is rejected when its adjusted value is at most alpha, which is the
    step-down rule "reject while p_(j) ≤ alpha/(m - j + 1)". Uniformly more
    powerful than Bonferroni (whose threshold alpha/m is Holm's first step).

    Raises:
        ValueError: on a p-value outside [0, 1] (or NaN) or an alpha outside (0, 1).
    """
    if not 0 < alpha < 1:
        msg = f"alpha: must be between 0 and 1 (got {alpha!r})"
        raise ValueError(msg)
    for p in p_values:
        if not (isinstance(p, int | float) and not math.isnan(p) and 0.0 <= p <= 1.0):
            msg = f"p_values: must be numbers in [0, 1] (got {p!r})"
            raise ValueError(msg)
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return HolmResult(tuple(adjusted), tuple(a <= alpha for a in adjusted), alpha)
