"""The A/B report's sections beyond the fixed horizon: multiple comparisons, sequential, CUPED, planning.

`domain.abtest.analyze` adds these to its report; each reads the arms'
tallies through `ArmStats.sample` and the per-unit ledger, and the figures
come from `domain.abstats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from actorserve.domain.abstats import SequentialState, Verdict, cuped_report, planning_report

if TYPE_CHECKING:
    from actorserve.domain.abarms import ArmStats
    from actorserve.domain.abspec import ABTestSpec

__all__ = ["report_sections", "unit_of"]


def unit_of(arms: Sequence[ArmStats]) -> str:
    """The unit of analysis: "key" once any request carried a sticky key, else "request"."""
    return "key" if any(arm.ledger.keyed_units for arm in arms) else "request"


def _label(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"arm{index}"


def _sequential(spec: ABTestSpec, k: int, state: SequentialState, verdict: Verdict) -> dict[str, object]:
    rows: list[dict[str, object]] = []
    for i, test in enumerate(state.tests):
        last = state.last[i]
        rows.append(
            {
                "arm": _label(i + 1),
                "difference": last.difference,
                "variance": last.variance,
                "tau": test.tau,
                "p_value": test.p_value,
                "p_value_holm": verdict.adjusted[i],
                "confidence_sequence": [test.lower, test.upper],
                "decided": verdict.decided[i],
                "looks": test.looks,
            }
        )
    return {
        "deciding": spec.sequential,
        "conclude": spec.conclude,
        "metric": spec.success_metric,
        "status": verdict.status,
        "reason": verdict.reason,
        "alpha": spec.alpha,
        "interval_alpha": spec.alpha / (k - 1),
        "mde": spec.mde,
        "tau_source": state.tau_source or None,
        "looks": state.tests[0].looks if state.tests else 0,
        "comparisons": rows,
    }


def _cuped(spec: ABTestSpec, arms: Sequence[ArmStats], covariates: Mapping[str, float]) -> dict[str, object] | None:
    if not covariates:
        return None
    metric = spec.success_metric
    pairs = [[(covariates[key], y) for key, y in arm.ledger.values(metric) if key in covariates] for arm in arms]
    return {
        "metric": metric,
        "estimand": f"difference in the mean per key of each key's {metric}",
        "covariates": len(covariates),
        "covariate_units": [len(p) for p in pairs],
        "comparisons": cuped_report(pairs[0], pairs[1:], alpha=spec.alpha / (len(arms) - 1)),
    }


def _planning(spec: ABTestSpec, arms: Sequence[ArmStats], unit: str) -> dict[str, object] | None:
    samples = [arm.sample(spec.success_metric) for arm in arms]
    present = [s for s in samples if s is not None]
    if len(present) != len(samples):
        return None
    return {
        "metric": spec.success_metric,
        **planning_report(
            present[0],
            present[1:],
            unit=unit,
            alpha=spec.alpha / (len(arms) - 1),
            power=spec.power,
            mde=spec.mde,
            lower_is_better=spec.lower_is_better(spec.success_metric),
        ),
    }


def report_sections(
    spec: ABTestSpec,
    arms: Sequence[ArmStats],
    unit: str,
    state: SequentialState,
    verdict: Verdict,
    covariates: Mapping[str, float],
) -> dict[str, object]:
    """The sections `analyze` adds: `multiple_comparisons`, `sequential`, `cuped`, `planning`."""
    k = len(arms)
    return {
        "multiple_comparisons": {
            "method": "holm" if k > 2 else "none (one comparison)",
            "family_alpha": spec.alpha,
            "hypotheses": k - 1,
            "interval_alpha": spec.alpha / (k - 1),
        },
        "sequential": _sequential(spec, k, state, verdict),
        "cuped": _cuped(spec, arms, covariates),
        "planning": _planning(spec, arms, unit),
    }
