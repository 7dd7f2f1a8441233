"""Shadow comparisons: does the shadow agree with the primary, and how do they differ.

Both sides are compared on their prediction (`domain.predictions`), the rule
ensembles vote by, so two versions of one model that predict the same agree
even though their outputs name different versions.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from actorserve.domain.metrics import LatencyHistogram
from actorserve.domain.predictions import plain, prediction

__all__ = ["ShadowStats", "outputs_agree"]


def _same(a: object, b: object) -> bool:
    result = a == b
    return result if isinstance(result, bool) else bool(result)


def _agree(a: object, b: object, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_agree(x, y, rel_tol, abs_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_agree(a[k], b[k], rel_tol, abs_tol) for k in a)
    return _same(a, b)


def outputs_agree(a: object, b: object, *, rel_tol: float, abs_tol: float) -> bool:
    """Equal, with numbers (also inside lists and dicts) compared within the tolerances.

    numpy-like values (arrays, numpy scalars: anything with `tolist()`) are
    compared as the Python numbers and lists they hold.

    Raises:
        Exception: whatever an output's own `==` or `tolist()` raises.
    """
    return _agree(plain(a), plain(b), rel_tol, abs_tol)


@dataclass(slots=True)
class ShadowStats:
    """Running comparison of a shadow with its primary (owned by the shadow actor)."""

    recent_limit: int = 20
    mirrored: int = 0
    dropped: int = 0
    compared: int = 0
    exact_agreements: int = 0
    tolerant_agreements: int = 0
    primary_errors: int = 0
    shadow_errors: int = 0
    only_shadow_failed: int = 0
    only_primary_failed: int = 0
    both_ok: int = 0
    comparison_errors: int = 0
    latency_delta: LatencyHistogram = field(default_factory=LatencyHistogram)
    slower: int = 0
    delta_total_ms: float = 0.0
    disagreements: deque[dict[str, object]] = field(default_factory=deque)
    comparisons: deque[dict[str, object]] = field(default_factory=deque)

    def record(
        self,
        primary: dict[str, object],
        shadow: dict[str, object],
        *,
        rel_tol: float,
        abs_tol: float,
        at: str,
        vote_on: str | None = None,
    ) -> None:
        """Compare one primary/shadow pair (each: success, output, latency_ms, error_code).

        A comparison that raises (an output whose `==` does, say) counts as a
        disagreement and in `comparison_errors`; it never propagates.
        """
        self.compared += 1
        p_ok, s_ok = bool(primary["success"]), bool(shadow["success"])
        self.primary_errors += not p_ok
        self.shadow_errors += not s_ok
        self.only_shadow_failed += p_ok and not s_ok
        self.only_primary_failed += s_ok and not p_ok
        exact = tolerant = False
        self.both_ok += p_ok and s_ok
        if p_ok and s_ok:
            exact, tolerant = self._compare(primary["output"], shadow["output"], rel_tol, abs_tol, vote_on)
        self.exact_agreements += exact
        self.tolerant_agreements += tolerant
        delta = float(shadow["latency_ms"]) - float(primary["latency_ms"])  # type: ignore[arg-type]
        self.delta_total_ms += delta
        self.slower += delta > 0
        self.latency_delta.record(abs(delta))
        comparison = {
            "timestamp": at,
            "primary_latency": primary["latency_ms"],
            "shadow_latency": shadow["latency_ms"],
            "primary_success": p_ok,
            "shadow_success": s_ok,
            "outputs_match": exact,
            "outputs_agree": tolerant,
        }
        self._push(self.comparisons, comparison)
        if p_ok and s_ok and not tolerant:
            self._push(
                self.disagreements,
                {**comparison, "primary_output": primary["output"], "shadow_output": shadow["output"]},
            )

    def _compare(
        self, primary: object, shadow: object, rel_tol: float, abs_tol: float, vote_on: str | None
    ) -> tuple[bool, bool]:
        try:
            a, b = prediction(primary, vote_on), prediction(shadow, vote_on)
            exact = _same(a, b)
            return exact, exact or _agree(a, b, rel_tol, abs_tol)
        except Exception:  # noqa: BLE001 - any output may refuse to compare; that is a count, not a crash
            self.comparison_errors += 1
            return False, False

    def _push(self, ring: deque[dict[str, object]], item: dict[str, object]) -> None:
        ring.append(item)
        while len(ring) > self.recent_limit:
            ring.popleft()

    def report(self) -> dict[str, object]:
        """Plain figures for `get_shadow_deployment_stats`."""
        both_ok = self.both_ok
        n = self.compared
        return {
            "mirrored": self.mirrored,
            "dropped": self.dropped,
            "comparisons_count": n,
            "agreement_rate": self.exact_agreements / both_ok if both_ok else None,
            "agreement_rate_within_tolerance": self.tolerant_agreements / both_ok if both_ok else None,
            "primary_error_rate": self.primary_errors / n if n else None,
            "shadow_error_rate": self.shadow_errors / n if n else None,
            "only_shadow_failed": self.only_shadow_failed,
            "only_primary_failed": self.only_primary_failed,
            "comparison_errors": self.comparison_errors,
            "latency_delta_ms": {
                "mean": self.delta_total_ms / n if n else None,
                "abs_p50": self.latency_delta.percentile(50),
                "abs_p95": self.latency_delta.percentile(95),
                "abs_p99": self.latency_delta.percentile(99),
                "shadow_slower_share": self.slower / n if n else None,
            },
            "recent_comparisons": list(self.comparisons)[-10:],
            "recent_disagreements": list(self.disagreements),
        }
