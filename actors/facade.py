"""The upstream `ModelServingInfrastructure` surface, backed by a `ServingRuntime`.

Existing host code keeps calling the same methods with the same return
shapes; behind them are real version actors. The experiment methods here are
the minimal versions (random split, fire-and-forget shadow copies, parallel
fan-out ensembles) that the experiment actors will replace.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from actors.plugins import load_invoker
from actors.reply import Reply, SyncReply
from actors.runtime import ServingRuntime
from domain.entities import (
    ABTestConfig,
    EnsembleConfig,
    ModelMetrics,
    ModelResponse,
    ModelVersion,
    ShadowDeployment,
)
from domain.enums import ErrorCode
from domain.ports import ModelInvoker

__all__ = ["ModelServingInfrastructure", "get_model_serving_infrastructure"]

_RECENT_COMPARISONS = 1000


def _default_invoker() -> ModelInvoker:
    # about half a second to load, so a fresh registration is observably LOADING
    return load_invoker("simulated", load_time_s=0.5, latency_ms=2.0, latency_jitter_ms=1.0)


class _CallbackReply(Reply[ModelResponse]):
    """A reply that hands the answer to a callback on the completing thread (must be quick)."""

    __slots__ = ("_callback",)

    def __init__(self, callback: Any) -> None:
        super().__init__()
        self._callback = callback

    def _notify(self, value: ModelResponse) -> None:
        self._callback(value)


def _summary(metrics: ModelMetrics | None) -> dict[str, object]:
    m = metrics or ModelMetrics(version_id="")
    return {
        "total_requests": m.total_requests,
        "avg_latency": m.avg_latency_ms,
        "total_cost": m.cost_usd,
        "successful_requests": m.successful_requests,
        "failed_requests": m.failed_requests,
        "error_rate": m.error_rate,
        "p50_latency": m.p50_latency_ms,
        "p95_latency": m.p95_latency_ms,
        "p99_latency": m.p99_latency_ms,
        "tokens_processed": m.tokens_processed,
    }


class ModelServingInfrastructure:
    """Upstream-compatible serving facade.

    Args:
        invoker: the model backend (default: simulated, ~0.5 s load time).
        runtime: an existing runtime to wrap instead of starting one.
        seed: seeds the A/B and shadow sampling, for repeatable tests.
    """

    def __init__(
        self,
        invoker: ModelInvoker | None = None,
        *,
        runtime: ServingRuntime | None = None,
        seed: int | None = None,
    ) -> None:
        self._runtime = runtime if runtime is not None else ServingRuntime(invoker or _default_invoker())
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._ab_tests: dict[str, ABTestConfig] = {}
        self._shadows: dict[str, ShadowDeployment] = {}
        self._comparisons: dict[str, deque[dict[str, object]]] = {}
        self._comparison_counts: dict[str, int] = {}
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

    def _serve_version(
        self, version_id: str, input_data: dict[str, Any], parameters: dict[str, Any] | None
    ) -> ModelResponse:
        version = self._runtime.get_version(version_id)
        if version is None:
            return ModelResponse(
                request_id=str(uuid.uuid4()),
                model_id="unknown",
                version_id=version_id,
                output_data=None,
                latency_ms=0.0,
                success=False,
                error=f"Version {version_id!r} not found",
                error_code=ErrorCode.NOT_FOUND,
            )
        return self._runtime.serve(version.model_name, input_data, version_id=version_id, parameters=parameters)

    # --- A/B tests -----------------------------------------------------------

    def start_ab_test(
        self,
        model_a_id: str,
        model_b_id: str,
        split_percentage: float = 50.0,
        duration_hours: int = 24,
    ) -> str:
        """Start splitting traffic: `split_percentage` % to A, the rest to B.

        Raises:
            ValueError: when the split is outside 0-100.
        """
        if not 0.0 <= float(split_percentage) <= 100.0:
            msg = f"split_percentage: must be between 0 and 100 (got {split_percentage!r})"
            raise ValueError(msg)
        test_id = str(uuid.uuid4())
        config = ABTestConfig(
            test_id=test_id,
            model_a_id=model_a_id,
            model_b_id=model_b_id,
            model_a_percentage=float(split_percentage),
            model_b_percentage=100.0 - float(split_percentage),
            duration_hours=duration_hours,
        )
        with self._lock:
            self._ab_tests[test_id] = config
        return test_id

    def serve_ab_test_request(
        self,
        test_id: str,
        input_data: dict[str, Any],
        parameters: dict[str, Any] | None = None,
    ) -> ModelResponse:
        """Serve on arm A or B by the split. Raises ValueError for an unknown test."""
        config = self._ab_tests.get(test_id)
        if config is None:
            msg = f"AB test {test_id} not found"
            raise ValueError(msg)
        with self._lock:
            draw = self._rng.uniform(0.0, 100.0)
        version_id = config.model_a_id if draw < config.model_a_percentage else config.model_b_id
        return self._serve_version(version_id, input_data, parameters)

    def analyze_ab_test(self, test_id: str) -> dict[str, Any]:
        """Per-arm metrics and a winner by the test's success metric (lower is better).

        No winner (None) while either arm has no successful request.
        """
        config = self._ab_tests.get(test_id)
        if config is None:
            return {"error": "Test not found"}
        a = _summary(self._runtime.get_metrics(config.model_a_id))
        b = _summary(self._runtime.get_metrics(config.model_b_id))
        metric = "total_cost" if config.success_metric == "cost" else "avg_latency"
        winner: str | None = None
        if a["successful_requests"] and b["successful_requests"]:
            winner = "A" if float(a[metric]) <= float(b[metric]) else "B"  # type: ignore[arg-type]
        with self._lock:
            config.winner = winner
            config.ended_at = datetime.now(UTC)
        return {
            "test_id": test_id,
            "winner": winner,
            "model_a_metrics": a,
            "model_b_metrics": b,
            "duration": (datetime.now(UTC) - config.started_at).total_seconds() / 3600,
            "success_metric": config.success_metric,
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
        """Mirror `traffic_percentage` % of requests to the shadow version."""
        if not 0.0 <= float(traffic_percentage) <= 100.0:
            msg = f"traffic_percentage: must be between 0 and 100 (got {traffic_percentage!r})"
            raise ValueError(msg)
        shadow_id = str(uuid.uuid4())
        deployment = ShadowDeployment(
            shadow_id=shadow_id,
            primary_model_id=primary_model_id,
            shadow_model_id=shadow_model_id,
            traffic_percentage=float(traffic_percentage),
        )
        with self._lock:
            self._shadows[shadow_id] = deployment
            self._comparisons[shadow_id] = deque(maxlen=_RECENT_COMPARISONS)
            self._comparison_counts[shadow_id] = 0
        return shadow_id

    def serve_with_shadow(
        self,
        shadow_id: str,
        input_data: dict[str, Any],
        parameters: dict[str, Any] | None = None,
    ) -> ModelResponse:
        """Serve on the primary; copy the request to the shadow without waiting for it."""
        deployment = self._shadows.get(shadow_id)
        if deployment is None:
            msg = f"Shadow deployment {shadow_id} not found"
            raise ValueError(msg)
        primary = self._serve_version(deployment.primary_model_id, input_data, parameters)
        with self._lock:
            mirror = self._rng.uniform(0.0, 100.0) < deployment.traffic_percentage
        shadow_version = self._runtime.get_version(deployment.shadow_model_id) if mirror else None
        if shadow_version is not None:

            def compare(shadow: ModelResponse) -> None:
                comparison: dict[str, object] = {
                    "timestamp": datetime.now(UTC).isoformat(),
                    "primary_latency": primary.latency_ms,
                    "shadow_latency": shadow.latency_ms,
                    "primary_success": primary.success,
                    "shadow_success": shadow.success,
                    "outputs_match": primary.success and shadow.success and primary.output_data == shadow.output_data,
                }
                with self._lock:
                    self._comparisons[shadow_id].append(comparison)
                    self._comparison_counts[shadow_id] += 1

            self._runtime.submit(
                shadow_version.model_name,
                input_data,
                _CallbackReply(compare),
                version_id=deployment.shadow_model_id,
                parameters=parameters,
            )
        return primary

    def get_shadow_deployment_stats(self, shadow_id: str) -> dict[str, Any] | None:
        """Comparison counts and the ten most recent comparisons, or None."""
        deployment = self._shadows.get(shadow_id)
        if deployment is None:
            return None
        with self._lock:
            recent = list(self._comparisons[shadow_id])[-10:]
            count = self._comparison_counts[shadow_id]
            matches = sum(1 for c in self._comparisons[shadow_id] if c["outputs_match"])
            window = len(self._comparisons[shadow_id])
        return {
            "shadow_id": shadow_id,
            "primary_model": deployment.primary_model_id,
            "shadow_model": deployment.shadow_model_id,
            "comparisons_count": count,
            "recent_comparisons": recent,
            "agreement_rate": matches / window if window else None,
        }

    # --- ensembles -----------------------------------------------------------

    def create_ensemble(
        self,
        model_versions: list[str],
        aggregation_method: str = "voting",
        weights: dict[str, float] | None = None,
    ) -> str:
        """Define an ensemble over versions; `aggregation_method` voting or averaging."""
        if not isinstance(model_versions, list) or not model_versions:
            msg = "model_versions: must be a non-empty list of version ids"
            raise ValueError(msg)
        if aggregation_method not in ("voting", "averaging", "stacking"):
            msg = f"aggregation_method: must be voting, averaging or stacking (got {aggregation_method!r})"
            raise ValueError(msg)
        ensemble_id = str(uuid.uuid4())
        config = EnsembleConfig(
            ensemble_id=ensemble_id,
            model_versions=list(model_versions),
            aggregation_method=aggregation_method,
            weights=dict(weights or {}),
        )
        with self._lock:
            self._ensembles[ensemble_id] = config
        return ensemble_id

    def serve_ensemble_request(
        self,
        ensemble_id: str,
        input_data: dict[str, Any],
        parameters: dict[str, Any] | None = None,
    ) -> ModelResponse:
        """Fan out to every member in parallel and aggregate. ValueError if unknown."""
        config = self._ensembles.get(ensemble_id)
        if config is None:
            msg = f"Ensemble {ensemble_id} not found"
            raise ValueError(msg)
        started = datetime.now(UTC)
        replies: list[tuple[str, SyncReply[ModelResponse] | ModelResponse]] = []
        for version_id in config.model_versions:
            version = self._runtime.get_version(version_id)
            if version is None:
                replies.append((version_id, self._serve_version(version_id, input_data, parameters)))
                continue
            reply: SyncReply[ModelResponse] = SyncReply()
            self._runtime.submit(version.model_name, input_data, reply, version_id=version_id, parameters=parameters)
            replies.append((version_id, reply))
        responses = [r if isinstance(r, ModelResponse) else self._runtime.await_reply(r) for _, r in replies]
        output = _aggregate(config, responses)
        ok = all(r.success for r in responses)
        return ModelResponse(
            request_id=str(uuid.uuid4()),
            model_id=f"ensemble-{ensemble_id}",
            version_id=ensemble_id,
            output_data=output,
            latency_ms=max((datetime.now(UTC) - started).total_seconds() * 1000.0, 1e-6),
            tokens_used=sum(r.tokens_used for r in responses),
            cost_usd=sum(r.cost_usd for r in responses),
            success=ok,
            error=None if ok else "; ".join(f"{r.version_id}: {r.error}" for r in responses if not r.success),
            error_code=None if ok else ErrorCode.MODEL_ERROR,
        )


def _aggregate(config: EnsembleConfig, responses: Sequence[ModelResponse]) -> object:
    results = [r.output_data for r in responses if r.success]
    if config.aggregation_method == "voting":
        if not results:
            return None
        counts = Counter(json.dumps(r, sort_keys=True, default=str) for r in results)
        winner = counts.most_common(1)[0][0]
        return next(r for r in results if json.dumps(r, sort_keys=True, default=str) == winner)
    if config.aggregation_method == "averaging":
        numbers = [r for r in results if isinstance(r, int | float) and not isinstance(r, bool)]
        if numbers and len(numbers) == len(results):
            return sum(numbers) / len(numbers)
        return {"averaged_results": results}
    return {
        "ensemble_results": [r.output_data for r in responses],
        "individual_latencies": [r.latency_ms for r in responses],
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
