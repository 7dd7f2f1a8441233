"""The upstream `ModelServingInfrastructure` surface, backed by a `ServingRuntime`.

Existing host code keeps calling the same methods with the same return
shapes; behind them are real version actors, and the experiment methods run
on the experiment actors (`runtime.experiments`), with richer fields added
beside the upstream ones.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from actorserve.actors.plugins import load_invoker
from actorserve.actors.runtime import ServingRuntime
from actorserve.domain.entities import (
    ABTestConfig,
    EnsembleConfig,
    ModelResponse,
    ModelVersion,
    ShadowDeployment,
)
from actorserve.domain.ports import ModelInvoker

__all__ = ["ModelServingInfrastructure", "get_model_serving_infrastructure"]


def _default_invoker() -> ModelInvoker:
    # about half a second to load, so a fresh registration is observably LOADING
    return load_invoker("simulated", load_time_s=0.5, latency_ms=2.0, latency_jitter_ms=1.0)


class ModelServingInfrastructure:
    """Upstream-compatible serving facade.

    Args:
        invoker: the model backend (default: simulated, ~0.5 s load time).
        runtime: an existing runtime to wrap instead of starting one.
        seed: seeds routing and experiment assignment, for repeatable tests.
    """

    def __init__(
        self,
        invoker: ModelInvoker | None = None,
        *,
        runtime: ServingRuntime | None = None,
        seed: int | None = None,
    ) -> None:
        self._runtime = runtime if runtime is not None else ServingRuntime(invoker or _default_invoker(), seed=seed)
        self._lock = threading.Lock()
        self._ab_tests: dict[str, ABTestConfig] = {}
        self._shadows: dict[str, ShadowDeployment] = {}
        self._ensembles: dict[str, EnsembleConfig] = {}

    @property
    def runtime(self) -> ServingRuntime:
        """The runtime behind the facade."""
        return self._runtime

    # --- models --------------------------------------------------------------

    def register_model(self, model: ModelVersion) -> bool:
        """Register and start loading `model`; False for a duplicate version id."""
        return self._runtime.register(model)

    def unload_model(self, version_id: str) -> bool:
        """Drain and stop a version; False if unknown."""
        return self._runtime.unload(version_id)

    def serve_request(
        self,
        model_name: str,
        input_data: dict[str, Any],
        version_id: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> ModelResponse:
        """Serve on `version_id`, or the newest READY version of `model_name`."""
        return self._runtime.serve(model_name, input_data, version_id=version_id, parameters=parameters)

    def get_model_status(self, version_id: str) -> ModelVersion | None:
        """The registered version object (live status), or None."""
        return self._runtime.get_version(version_id)

    def list_models(self) -> list[ModelVersion]:
        """Every registered version."""
        return self._runtime.list_versions()

    def stop(self) -> None:
        """Drain every version and join every thread (upstream had no way to shut down)."""
        self._runtime.stop()

    # --- A/B tests -----------------------------------------------------------

    def start_ab_test(
        self,
        model_a_id: str,
        model_b_id: str,
        split_percentage: float = 50.0,
        duration_hours: int = 24,
        *,
        success_metric: str = "latency",
        min_samples: int = 30,
    ) -> str:
        """Split traffic: `split_percentage` % to A, the rest to B; returns the test id.

        Raises:
            ValueError: naming the field: a split outside 0-100, a non-positive
                duration, an unregistered version, or A and B the same.
        """
        if not isinstance(split_percentage, int | float) or not 0.0 <= float(split_percentage) <= 100.0:
            msg = f"split_percentage: must be between 0 and 100 (got {split_percentage!r})"
            raise ValueError(msg)
        if not isinstance(duration_hours, int | float) or duration_hours <= 0:
            raise ValueError(f"duration_hours: must be > 0 (got {duration_hours!r})")
        split = float(split_percentage)
        test_id = self._runtime.experiments.start_ab_test(
            [model_a_id, model_b_id],
            [split, 100.0 - split],
            success_metric=success_metric,
            min_samples=min_samples,
            duration_s=float(duration_hours) * 3600.0,
        )
        with self._lock:
            self._ab_tests[test_id] = ABTestConfig(
                test_id=test_id,
                model_a_id=model_a_id,
                model_b_id=model_b_id,
                model_a_percentage=split,
                model_b_percentage=100.0 - split,
                duration_hours=duration_hours,
                success_metric=success_metric,
            )
        return test_id

    def _require(self, experiment_id: str, kind: str, name: str) -> None:
        if self._runtime.experiments.kind(experiment_id) != kind:
            msg = f"{name} {experiment_id} not found"
            raise ValueError(msg)

    def serve_ab_test_request(
        self,
        test_id: str,
        input_data: dict[str, Any],
        parameters: dict[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> ModelResponse:
        """Serve on arm A or B (sticky by `key`). Raises ValueError for an unknown test."""
        self._require(test_id, "ab_test", "AB test")
        return self._runtime.experiments.serve(test_id, input_data, parameters=parameters, key=key)

    def record_ab_outcome(self, test_id: str, request_id: str, value: float, metric: str = "conversion") -> bool:
        """Report a business outcome for a request the test served (see `Experiments.record_outcome`)."""
        return self._runtime.experiments.record_outcome(test_id, request_id, value, metric=metric)

    def analyze_ab_test(self, test_id: str) -> dict[str, Any]:
        """Per-arm metrics (upstream keys and richer ones), the full analysis, and a winner.

        `winner` is "A" or "B" only when the success metric differs
        significantly with enough samples; otherwise None, and `reason` says why.
        The upstream keys come first; after them the statistics of the report:
        `decided_by` (sequential or fixed_horizon), `unit` (request or key),
        `sequential` (always-valid p-values and confidence sequences),
        `fixed_horizon`, `multiple_comparisons`, `planning`, `cuped`,
        `decisions` and `concluded`.
        """
        config = self._ab_tests.get(test_id)
        report = self._runtime.experiments.report(test_id) if config is not None else None
        if config is None or report is None:
            return {"error": "Test not found"}
        arms = report["arms"]
        assert isinstance(arms, list)
        with self._lock:
            config.winner = report["winner"]  # type: ignore[assignment]
            if report["ended"] and config.ended_at is None:
                config.ended_at = datetime.now(UTC)
        return {
            "test_id": test_id,
            "winner": report["winner"],
            "reason": report["reason"],
            "model_a_metrics": _arm_summary(arms[0]),
            "model_b_metrics": _arm_summary(arms[1]),
            "duration": (datetime.now(UTC) - config.started_at).total_seconds() / 3600,
            "success_metric": config.success_metric,
            "analysis": report,
            "decided_by": report.get("decided_by"),
            "unit": report.get("unit"),
            "sequential": report.get("sequential"),
            "fixed_horizon": report.get("fixed_horizon"),
            "multiple_comparisons": report.get("multiple_comparisons"),
            "planning": report.get("planning"),
            "cuped": report.get("cuped"),
            "decisions": report.get("decisions", []),
            "concluded": report.get("concluded", False),
        }

    def get_ab_test_status(self, test_id: str) -> ABTestConfig | None:
        """The test's config, or None."""
        return self._ab_tests.get(test_id)

    # --- shadow deployments --------------------------------------------------

    def start_shadow_deployment(
        self,
        primary_model_id: str,
        shadow_model_id: str,
        traffic_percentage: float = 100.0,
    ) -> str:
        """Mirror `traffic_percentage` % of requests to the shadow version; returns the shadow id."""
        shadow_id = self._runtime.experiments.start_shadow(
            primary_model_id, shadow_model_id, traffic_percentage=traffic_percentage
        )
        with self._lock:
            self._shadows[shadow_id] = ShadowDeployment(
                shadow_id=shadow_id,
                primary_model_id=primary_model_id,
                shadow_model_id=shadow_model_id,
                traffic_percentage=float(traffic_percentage),
            )
        return shadow_id

    def serve_with_shadow(
        self,
        shadow_id: str,
        input_data: dict[str, Any],
        parameters: dict[str, Any] | None = None,
    ) -> ModelResponse:
        """The primary's response; the shadow sees a copy and never affects it."""
        self._require(shadow_id, "shadow", "Shadow deployment")
        return self._runtime.experiments.serve(shadow_id, input_data, parameters=parameters)

    def get_shadow_deployment_stats(self, shadow_id: str) -> dict[str, Any] | None:
        """shadow_id, primary_model, shadow_model, comparisons_count, recent_comparisons, and more."""
        if shadow_id not in self._shadows:
            return None
        return self._runtime.experiments.report(shadow_id)

    # --- ensembles -----------------------------------------------------------

    def create_ensemble(
        self,
        model_versions: list[str],
        aggregation_method: str = "voting",
        weights: dict[str, float] | None = None,
        *,
        min_agreements: int | None = None,
    ) -> str:
        """Define an ensemble; voting or averaging (weighted when `weights` are given), or first_success."""
        method = aggregation_method
        if weights and method in ("voting", "averaging"):
            method = f"weighted_{method}"
        ensemble_id = self._runtime.experiments.create_ensemble(
            model_versions, aggregation_method=method, weights=weights, min_agreements=min_agreements
        )
        with self._lock:
            self._ensembles[ensemble_id] = EnsembleConfig(
                ensemble_id=ensemble_id,
                model_versions=list(model_versions),
                aggregation_method=aggregation_method,
                weights=dict(weights or {}),
                min_agreements=min_agreements if min_agreements is not None else 2,
            )
        return ensemble_id

    def serve_ensemble_request(
        self,
        ensemble_id: str,
        input_data: dict[str, Any],
        parameters: dict[str, Any] | None = None,
    ) -> ModelResponse:
        """Fan out to every member in parallel and aggregate. ValueError if unknown."""
        self._require(ensemble_id, "ensemble", "Ensemble")
        return self._runtime.experiments.serve(ensemble_id, input_data, parameters=parameters)


def _arm_summary(arm: dict[str, Any]) -> dict[str, object]:
    return {
        "total_requests": arm["requests"],
        "avg_latency": arm["latency_ms_mean"] or 0.0,
        "total_cost": arm["cost_usd_total"],
        "successful_requests": arm["successes"],
        "success_rate": arm["success_rate"],
        "errors_by_code": arm["errors_by_code"],
        "tokens": arm["tokens"],
    }


_instance: ModelServingInfrastructure | None = None
_instance_lock = threading.Lock()


def get_model_serving_infrastructure() -> ModelServingInfrastructure:
    """The process-wide facade (a new one if the previous was stopped)."""
    global _instance  # noqa: PLW0603 - the upstream singleton
    with _instance_lock:
        if _instance is None or _instance.runtime.stopped:
            _instance = ModelServingInfrastructure()
        return _instance
