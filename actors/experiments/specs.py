"""Experiment specs from the arguments of `runtime.experiments.start_*`: one reading, shared with `actorserve check`.

Pure: each function turns the call's arguments (defaults and conversions
included) into the frozen spec its actor runs, or raises `ConfigError`
naming the argument. `Experiments` builds its specs here, and the CLI's
preflight builds the same specs from a config file without starting anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from actorserve.actors.experiments.shadow import ShadowSpec
from actorserve.domain.abtest import ABTestSpec
from actorserve.domain.canary import CanarySpec
from actorserve.domain.ensemble import EnsembleSpec
from actorserve.domain.errors import ConfigError

__all__ = ["ab_test_spec", "canary_spec", "ensemble_spec", "shadow_spec"]

DEFAULT_STEPS = (1.0, 5.0, 25.0, 50.0, 100.0)


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{field}: must be a number (got {value!r})", field=field)
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{field}: must be a number (got {value!r})", field=field) from None


def _numbers(field: str, values: object) -> tuple[float, ...]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise ConfigError(f"{field}: must be a list of numbers (got {values!r})", field=field)
    return tuple(_number(f"{field}[{i}]", v) for i, v in enumerate(values))


def _ids(field: str, values: object) -> tuple[str, ...]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise ConfigError(f"{field}: must be a list of version ids (got {values!r})", field=field)
    return tuple(values)  # the spec checks each id


def ab_test_spec(
    test_id: str,
    arms: Sequence[str],
    weights: Sequence[float] | None = None,
    *,
    success_metric: str = "success_rate",
    alpha: float = 0.05,
    min_samples: int = 100,
    duration_s: float | None = None,
    higher_is_better: bool = True,
    sequential: bool = True,
    tau: float | None = None,
    mde: float | None = None,
    power: float = 0.8,
    conclude: str = "never",
    covariates: Mapping[str, float] | None = None,
) -> ABTestSpec:
    """The A/B(/n) spec of `start_ab_test` (equal weights when none are given; no covariates when None)."""
    arm_ids = _ids("arms", arms)
    if covariates is not None and not isinstance(covariates, Mapping):
        raise ConfigError(f"covariates: must map keys to numbers (got {covariates!r})", field="covariates")
    return ABTestSpec(
        test_id=test_id,
        arms=arm_ids,
        weights=_numbers("weights", weights) if weights is not None else (1.0,) * len(arm_ids),
        success_metric=success_metric,
        alpha=alpha,
        min_samples=min_samples,
        duration_s=duration_s,
        higher_is_better=higher_is_better,
        sequential=sequential,
        tau=_number("tau", tau) if tau is not None else None,
        mde=_number("mde", mde) if mde is not None else None,
        power=_number("power", power),
        conclude=conclude,
        covariates=dict(covariates) if covariates is not None else {},
    )


def shadow_spec(
    shadow_id: str,
    primary: str,
    shadow: str,
    *,
    traffic_percentage: float = 100.0,
    queue_size: int = 64,
    shadow_timeout_ms: float | None = None,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-9,
    vote_on: str | None = None,
) -> ShadowSpec:
    """The shadow spec of `start_shadow`."""
    percentage = _number("traffic_percentage", traffic_percentage)
    return ShadowSpec(shadow_id, primary, shadow, percentage, queue_size, shadow_timeout_ms, rel_tol, abs_tol, vote_on)


def ensemble_spec(
    members: Sequence[str],
    *,
    aggregation_method: str = "voting",
    weights: Mapping[str, float] | None = None,
    min_agreements: int | None = None,
    vote_on: str | None = None,
) -> EnsembleSpec:
    """The ensemble spec of `create_ensemble`: weights by member, quorum 2 (1 for first_success) unless given."""
    if not isinstance(members, Sequence) or isinstance(members, str):
        raise ConfigError("model_versions: must be a list of version ids", field="model_versions")
    weight_list: tuple[float, ...] = ()
    if weights:
        if not isinstance(weights, Mapping):
            raise ConfigError(f"weights: must map version ids to numbers (got {weights!r})", field="weights")
        unknown = [vid for vid in weights if vid not in members]
        if unknown:
            raise ConfigError(f"weights: {unknown[0]!r} is not a member", field="weights")
        weight_list = tuple(_number(f"weights.{vid}", weights.get(vid, 0.0)) for vid in members)
    quorum = min_agreements if min_agreements is not None else (1 if aggregation_method == "first_success" else 2)
    return EnsembleSpec(tuple(members), aggregation_method, weight_list, quorum, vote_on)


def canary_spec(
    baseline: str,
    candidate: str,
    *,
    steps: Sequence[float] = DEFAULT_STEPS,
    min_requests: int = 100,
    max_error_rate_increase: float = 0.02,
    max_p95_ratio: float = 1.5,
    p95_slack_ms: float = 2.0,
) -> CanarySpec:
    """The canary spec of `start_canary`."""
    return CanarySpec(
        baseline,
        candidate,
        _numbers("steps", steps),
        min_requests,
        max_error_rate_increase,
        max_p95_ratio,
        p95_slack_ms,
    )
