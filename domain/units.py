"""Per-unit sufficient statistics of an A/B arm, kept as requests arrive, for the delta method and CUPED.

With sticky keys the unit of randomisation is the key (a user), not the
request: a user who sends forty requests is one observation, not forty. An
arm keeps, per unit and per metric, the unit's request count n_i and sum s_i,
and beside them the `RatioTotals` over units (Σn, Σs, Σn², Σs², Σns) updated
in O(1) per request, so the delta method reads a ratio's unit-level variance
at any time without a pass over the units. Requests without a key are units
of their own (n_i = 1), so a test without keys reduces to request-level
inference.

Metrics and their (n, s) per unit: `success_rate` (requests, successes),
`latency` and `cost` (successful requests, their sum), a custom metric
(outcomes, their sum); `error_rate` is derived from `success_rate`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from actorserve.domain.variance import RatioTotals

__all__ = ["MAX_KEYED_UNITS", "UnitLedger", "UnitTotals", "error_totals"]

MAX_KEYED_UNITS = 1_000_000
"""Distinct keys remembered per arm; a new key beyond it counts each of its requests as a unit of its own."""


def _bump(t: RatioTotals, old: tuple[float, float], dn: float, ds: float) -> RatioTotals:
    """`t` after one unit's (n, s) moved from `old` to `old + (dn, ds)`."""
    n0, s0 = old
    n1, s1 = n0 + dn, s0 + ds
    return RatioTotals(
        units=t.units + (1 if n0 == 0 and n1 > 0 else 0),
        sum_n=t.sum_n + dn,
        sum_s=t.sum_s + ds,
        sum_n2=t.sum_n2 + n1 * n1 - n0 * n0,
        sum_s2=t.sum_s2 + s1 * s1 - s0 * s0,
        sum_ns=t.sum_ns + n1 * s1 - n0 * s0,
    )


def error_totals(success: RatioTotals) -> RatioTotals:
    """The failures' totals (s'_i = n_i - s_i) from the successes'."""
    return RatioTotals(
        units=success.units,
        sum_n=success.sum_n,
        sum_s=success.sum_n - success.sum_s,
        sum_n2=success.sum_n2,
        sum_s2=success.sum_n2 - 2.0 * success.sum_ns + success.sum_s2,
        sum_ns=success.sum_n2 - success.sum_ns,
    )


@dataclass(frozen=True, slots=True)
class UnitTotals:
    """A frozen snapshot of one arm's unit-level totals (what a state store would keep).

    Attributes:
        keyed_units: distinct keys seen.
        ratios: per metric, the `RatioTotals` over units.
    """

    keyed_units: int = 0
    ratios: Mapping[str, RatioTotals] = field(default_factory=dict)

    def ratio(self, metric: str) -> RatioTotals:
        """The totals of `metric` (`error_rate` derived from `success_rate`; empty if never seen)."""
        if metric == "error_rate":
            return error_totals(self.ratios.get("success_rate", RatioTotals()))
        return self.ratios.get(metric, RatioTotals())


class UnitLedger:
    """One arm's per-unit (n, s) per metric and the running totals (owned by the experiment actor).

    Plain data throughout (str keys, float pairs), so it can be stored and
    restored as it is.
    """

    __slots__ = ("_totals", "_units")

    def __init__(self) -> None:
        self._units: dict[str, dict[str, tuple[float, float]]] = {}
        self._totals: dict[str, RatioTotals] = {}

    @property
    def keyed_units(self) -> int:
        """Distinct keys seen (up to `MAX_KEYED_UNITS`)."""
        return len(self._units)

    def add(self, key: str | None, metric: str, n: float, s: float) -> None:
        """Add `n` requests (or outcomes) summing to `s` to `key`'s unit (a unit of its own without a key)."""
        old = (0.0, 0.0)
        if key is not None and (key in self._units or len(self._units) < MAX_KEYED_UNITS):
            per_metric = self._units.setdefault(key, {})
            old = per_metric.get(metric, old)
            per_metric[metric] = (old[0] + n, old[1] + s)
        self._totals[metric] = _bump(self._totals.get(metric, RatioTotals()), old, n, s)

    def ratio(self, metric: str) -> RatioTotals:
        """The totals of `metric` over units (`error_rate` derived from `success_rate`)."""
        if metric == "error_rate":
            return error_totals(self._totals.get("success_rate", RatioTotals()))
        return self._totals.get(metric, RatioTotals())

    def snapshot(self) -> UnitTotals:
        """The frozen totals."""
        return UnitTotals(len(self._units), dict(self._totals))

    def values(self, metric: str) -> Iterator[tuple[str, float]]:
        """Each keyed unit's value of `metric` (s_i / n_i; failures / n_i for `error_rate`)."""
        source = "success_rate" if metric == "error_rate" else metric
        for key, per_metric in self._units.items():
            n, s = per_metric.get(source, (0.0, 0.0))
            if n > 0:
                yield key, ((n - s) / n if metric == "error_rate" else s / n)
