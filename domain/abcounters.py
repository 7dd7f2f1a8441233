"""An A/B arm's tallies as additive counters: what the state store keeps, and the way back.

Every number here adds up across writers (processes sharing one experiment,
or the same process before and after a restart): counts, sums and sums of
squares, histogram buckets, failures by error code, and the per-unit ledger
split into units without a key (distinct by construction) and, per keyed
unit, its (n, s) per metric, which are summed before the totals over units
are formed. So `arm_from_counters(merge(arm_counters(a), arm_counters(b)))`
holds the statistics of every observation of `a` and `b` together.

Two counter sets per arm: `fields` (small, read at every sync) and `units`
(one pair of fields per keyed unit and metric, and one per assigned key).
Unit field names are JSON arrays, so any key string round-trips.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from actorserve.domain.abarms import ArmStats
from actorserve.domain.state import Counters, Number
from actorserve.domain.stats import RunningStats
from actorserve.domain.units import UnitLedger
from actorserve.domain.variance import RatioTotals

__all__ = ["add_counters", "arm_counters", "arm_from_counters"]

_RATIO_FIELDS = ("units", "sum_n", "sum_s", "sum_n2", "sum_s2", "sum_ns")


def add_counters(*sets: Mapping[str, Number]) -> Counters:
    """Field-wise sums of counter sets."""
    out: Counters = {}
    for fields in sets:
        for name, value in fields.items():
            out[name] = out.get(name, 0) + value
    return out


def _moments(out: Counters, prefix: str, stats: RunningStats) -> None:
    n, total, squares = stats.sums()
    if n:
        out[f"{prefix}.n"] = n
        out[f"{prefix}.sum"] = total
        out[f"{prefix}.sq"] = squares


def arm_counters(arm: ArmStats) -> tuple[Counters, Counters]:
    """(fields, units): `arm`'s tallies as additive counters (zeros left out)."""
    out: Counters = {"assigned": arm.assigned, "successes": arm.successes, "tokens": arm.tokens}
    for code, n in arm.failures.items():
        out[f"fail.{code}"] = n
    _moments(out, "latency", arm.latency)
    _moments(out, "cost", arm.cost)
    for metric, stats in arm.custom.items():
        _moments(out, f"custom.{metric}", stats)
    for index, n in arm.latency_histogram.buckets().items():
        out[f"hist.{index}"] = n
    if arm.latency_histogram.count:
        out["hist.total_ms"] = arm.latency_histogram.total_ms
    unkeyed, keyed = arm.ledger.export()
    for metric, t in unkeyed.items():
        for name in _RATIO_FIELDS:
            value = getattr(t, name)
            if value:
                out[f"unkeyed.{metric}.{name}"] = value
    units: Counters = {}
    for key, per_metric in keyed.items():
        for metric, (count, total) in per_metric.items():
            units[json.dumps(["n", metric, key])] = count
            if total:
                units[json.dumps(["s", metric, key])] = total
    for key in arm.units:
        units[json.dumps(["assigned", key])] = 1
    return {k: v for k, v in out.items() if v}, units


def _stats(fields: Mapping[str, Number], prefix: str) -> RunningStats:
    n = int(fields.get(f"{prefix}.n", 0))
    return RunningStats.from_sums(n, float(fields.get(f"{prefix}.sum", 0.0)), float(fields.get(f"{prefix}.sq", 0.0)))


def arm_from_counters(fields: Mapping[str, Number], units: Mapping[str, Number]) -> ArmStats:
    """The `ArmStats` that `arm_counters` (summed over writers) describes; unknown fields are ignored."""
    arm = ArmStats()
    arm.assigned = int(fields.get("assigned", 0))
    arm.successes = int(fields.get("successes", 0))
    arm.tokens = int(fields.get("tokens", 0))
    arm.latency = _stats(fields, "latency")
    arm.cost = _stats(fields, "cost")
    buckets: dict[int, int] = {}
    unkeyed: dict[str, dict[str, float]] = {}
    for name, value in fields.items():
        head, _, rest = name.partition(".")
        if head == "fail" and rest:
            arm.failures[rest] = int(value)
        elif head == "custom" and rest.endswith(".n"):
            metric = rest.removesuffix(".n")
            arm.custom[metric] = _stats(fields, f"custom.{metric}")
        elif head == "hist" and rest.isdigit():
            buckets[int(rest)] = int(value)
        elif head == "unkeyed":
            metric, _, part = rest.rpartition(".")
            if metric and part in _RATIO_FIELDS:
                unkeyed.setdefault(metric, {})[part] = float(value)
    arm.latency_histogram.add_buckets(buckets, float(fields.get("hist.total_ms", 0.0)))
    keyed: dict[str, dict[str, tuple[float, float]]] = {}
    for name, value in units.items():
        try:
            parsed = json.loads(name)
        except ValueError:
            continue
        if not isinstance(parsed, list):
            continue
        if len(parsed) == 2 and parsed[0] == "assigned" and isinstance(parsed[1], str):
            arm.units.add(parsed[1])
        elif len(parsed) == 3 and parsed[0] in ("n", "s") and all(isinstance(p, str) for p in parsed):
            per_metric = keyed.setdefault(parsed[2], {})
            n, s = per_metric.get(parsed[1], (0.0, 0.0))
            per_metric[parsed[1]] = (n + float(value), s) if parsed[0] == "n" else (n, s + float(value))
    ratios = {
        metric: RatioTotals(**{name: parts.get(name, 0.0) for name in _RATIO_FIELDS})  # type: ignore[arg-type]
        for metric, parts in unkeyed.items()
    }
    for metric, t in ratios.items():
        ratios[metric] = RatioTotals(int(t.units), t.sum_n, t.sum_s, t.sum_n2, t.sum_s2, t.sum_ns)
    arm.ledger = UnitLedger.merged(ratios, keyed)
    return arm
