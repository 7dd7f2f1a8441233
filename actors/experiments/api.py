"""`runtime.experiments`: start, serve, analyze and stop experiments from host code."""

from __future__ import annotations

import hashlib
import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pykka

from actorserve.actors.experiments.ab import ABTestActor
from actorserve.actors.experiments.base import (
    Analyze,
    ExperimentActor,
    ExperimentDeps,
    RecordCovariate,
    RecordOutcome,
    Settle,
    StopExperiment,
)
from actorserve.actors.experiments.canary import CanaryActor
from actorserve.actors.experiments.ensemble import EnsembleActor
from actorserve.actors.experiments.shadow import ShadowActor
from actorserve.actors.experiments.specs import DEFAULT_STEPS, ab_test_spec, canary_spec, ensemble_spec, shadow_spec
from actorserve.actors.reply import SyncReply
from actorserve.domain.entities import ModelResponse
from actorserve.domain.errors import ConfigError

if TYPE_CHECKING:
    from actorserve.actors.control import ControlPlane
    from actorserve.actors.request_path import RequestPath

__all__ = ["Experiments"]


class Experiments:
    """Experiments of one runtime. Thread-safe; every call returns within the runtime's call timeout.

    Each experiment is an actor that owns its state; this object only knows
    their ids. Starting validates everything first (registered versions,
    percentages, weights, quorum), so a bad call raises `ValueError` naming
    the field and starts nothing. Once `stop_all` has begun (the runtime's
    `stop()` calls it first), every start raises `RuntimeError`, so no
    experiment outlives the runtime.
    """

    def __init__(self, control: ControlPlane, path: RequestPath, deps: ExperimentDeps, seed: int | None) -> None:
        self._control = control
        self._path = path
        self._deps = deps
        self._seed = seed
        self._lock = threading.Lock()
        self._live: dict[str, tuple[str, pykka.ActorRef[Any]]] = {}
        self._final: dict[str, dict[str, object]] = {}
        self._closed = False  # set under _lock by stop_all; _start checks it under the same lock

    # --- starting ------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed or self._path.closed or self._control.stopped:
            msg = "the runtime is stopped"
            raise RuntimeError(msg)

    def _models(self, version_ids: Sequence[str], field: str) -> dict[str, str]:
        self._check_open()
        models: dict[str, str] = {}
        for vid in version_ids:
            version = self._control.get_version(vid) if isinstance(vid, str) else None
            if version is None:
                self._check_open()  # stopping unregisters every version: say why, not "not registered"
                raise ConfigError(f"{field}: version {vid!r} is not registered", field=field)
            models[vid] = version.model_name
        return models

    def _new_id(self, given: str | None, field: str) -> str:
        if given is None:
            return str(uuid.uuid4())
        if not isinstance(given, str) or not given.strip():
            raise ConfigError(f"{field}: must be a non-empty string (got {given!r})", field=field)
        with self._lock:
            if given in self._live or given in self._final:
                raise ConfigError(f"{field}: {given!r} is already in use", field=field)
        return given

    def _seed_for(self, experiment_id: str) -> int | None:
        if self._seed is None:
            return None
        digest = hashlib.blake2b(f"{self._seed}:{experiment_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def _start(self, experiment_id: str, actor: type[ExperimentActor], **kwargs: Any) -> str:
        # Checked, started and recorded under one lock that stop_all also takes to close:
        # a start either lands in _live before stop_all lists it, or sees the close and raises.
        # (Starting an actor only spawns its thread, so the lock is held briefly.)
        with self._lock:
            self._check_open()
            if experiment_id in self._live or experiment_id in self._final:
                raise ConfigError(f"id: {experiment_id!r} is already in use", field="id")
            self._live[experiment_id] = (actor.kind, actor.start(deps=self._deps, **kwargs))
        return experiment_id

    def start_ab_test(
        self,
        arms: Sequence[str],
        weights: Sequence[float] | None = None,
        *,
        success_metric: str = "success_rate",
        alpha: float = 0.05,
        min_samples: int = 100,
        duration_s: float | None = None,
        higher_is_better: bool = True,
        test_id: str | None = None,
        sequential: bool = True,
        tau: float | None = None,
        mde: float | None = None,
        power: float = 0.8,
        conclude: str = "never",
        covariates: Mapping[str, float] | None = None,
    ) -> str:
        """Split traffic across `arms` (version ids; the first is the control). Returns the test id.

        `sequential`: the always-valid test decides (False: the fixed-horizon
        one; both are reported). `tau`: its mixing width in the metric's
        units; when None, from `mde` (the absolute minimum detectable effect,
        planned with `power`), else tuned at the first look. `conclude`:
        "never", "stop" (end the test once the sequential test decides) or
        "promote" (stop, then a canary of the winner over the control takes the
        test's traffic). `covariates`: pre-period value per key, for CUPED.
        """
        test_id = self._new_id(test_id, "test_id")
        spec = ab_test_spec(
            test_id,
            arms,
            weights,
            success_metric=success_metric,
            alpha=alpha,
            min_samples=min_samples,
            duration_s=duration_s,
            higher_is_better=higher_is_better,
            sequential=sequential,
            tau=tau,
            mde=mde,
            power=power,
            conclude=conclude,
            covariates=covariates,
        )
        models = self._models(spec.arms, "arms")

        def promote(baseline: str, winner: str) -> tuple[str, pykka.ActorRef[Any]]:
            # Runs on the A/B test's thread once it concludes: it only spawns the canary.
            canary_id = f"{test_id}-promote"
            self._start(
                canary_id,
                CanaryActor,
                canary_id=canary_id,
                spec=canary_spec(baseline, winner),
                models={vid: models[vid] for vid in (baseline, winner)},
                seed=self._seed_for(canary_id),
                auto_unload=True,
            )
            ref = self._ref(canary_id)
            if ref is None:
                msg = f"canary {canary_id} stopped before it was handed the traffic"
                raise RuntimeError(msg)
            return canary_id, ref

        seed = self._seed_for(test_id)
        return self._start(test_id, ABTestActor, spec=spec, models=models, seed=seed, promote=promote)

    def start_shadow(
        self,
        primary: str,
        shadow: str,
        *,
        traffic_percentage: float = 100.0,
        queue_size: int = 64,
        shadow_timeout_ms: float | None = None,
        rel_tol: float = 1e-6,
        abs_tol: float = 1e-9,
        shadow_id: str | None = None,
        vote_on: str | None = None,
    ) -> str:
        """Mirror `traffic_percentage` % of requests from `primary` to `shadow`. Returns the shadow id.

        Agreement compares the outputs' predictions: `vote_on` as for
        `create_ensemble` (None: the default rule).
        """
        shadow_id = self._new_id(shadow_id, "shadow_id")
        spec = shadow_spec(
            shadow_id,
            primary,
            shadow,
            traffic_percentage=traffic_percentage,
            queue_size=queue_size,
            shadow_timeout_ms=shadow_timeout_ms,
            rel_tol=rel_tol,
            abs_tol=abs_tol,
            vote_on=vote_on,
        )
        models = {**self._models([primary], "primary_model_id"), **self._models([shadow], "shadow_model_id")}
        return self._start(shadow_id, ShadowActor, spec=spec, models=models, seed=self._seed_for(shadow_id))

    def create_ensemble(
        self,
        members: Sequence[str],
        *,
        aggregation_method: str = "voting",
        weights: Mapping[str, float] | None = None,
        min_agreements: int | None = None,
        ensemble_id: str | None = None,
        vote_on: str | None = None,
    ) -> str:
        """Fan requests out to `members` and aggregate. Returns the ensemble id.

        `aggregation_method`: voting, weighted_voting, averaging,
        weighted_averaging or first_success; `weights` maps version id to
        weight; `min_agreements` defaults to 2 (1 for first_success).
        `vote_on`: what voting compares, a key or dotted path into each output
        (`"label"`, `"choices.0.text"`); None: the first present of `label`,
        `predict`, `text`, `output`, `result`, else the output without its
        identity fields (`model`, `version`, `id`, `created`, latencies).
        """
        ensemble_id = self._new_id(ensemble_id, "ensemble_id")
        spec = ensemble_spec(
            members,
            aggregation_method=aggregation_method,
            weights=weights,
            min_agreements=min_agreements,
            vote_on=vote_on,
        )
        models = self._models(spec.members, "model_versions")
        return self._start(ensemble_id, EnsembleActor, ensemble_id=ensemble_id, spec=spec, models=models)

    def start_canary(
        self,
        baseline: str,
        candidate: str,
        *,
        steps: Sequence[float] = DEFAULT_STEPS,
        min_requests: int = 100,
        max_error_rate_increase: float = 0.02,
        max_p95_ratio: float = 1.5,
        p95_slack_ms: float = 2.0,
        auto_unload: bool = True,
        canary_id: str | None = None,
    ) -> str:
        """Roll `candidate` out over `baseline` step by step; it promotes or rolls back by itself."""
        canary_id = self._new_id(canary_id, "canary_id")
        spec = canary_spec(
            baseline,
            candidate,
            steps=steps,
            min_requests=min_requests,
            max_error_rate_increase=max_error_rate_increase,
            max_p95_ratio=max_p95_ratio,
            p95_slack_ms=p95_slack_ms,
        )
        models = {**self._models([baseline], "baseline"), **self._models([candidate], "candidate")}
        return self._start(
            canary_id,
            CanaryActor,
            canary_id=canary_id,
            spec=spec,
            models=models,
            seed=self._seed_for(canary_id),
            auto_unload=auto_unload,
        )

    # --- serving -------------------------------------------------------------

    def _ref(self, experiment_id: object) -> pykka.ActorRef[Any] | None:
        with self._lock:
            entry = self._live.get(experiment_id) if isinstance(experiment_id, str) else None
        return entry[1] if entry else None

    def kind(self, experiment_id: str) -> str | None:
        """The experiment's kind (ab_test, shadow, ensemble, canary), or None if unknown."""
        with self._lock:
            if experiment_id in self._live:
                return self._live[experiment_id][0]
            final = self._final.get(experiment_id)
        return str(final["kind"]) if final else None

    def serve(
        self,
        experiment_id: str,
        input_data: dict[str, object],
        *,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """Serve one request under the experiment; NOT_FOUND if unknown (never raises for model errors)."""
        return self._path.serve_at(self._ref(experiment_id), experiment_id, input_data, parameters, timeout_ms, key)

    async def aserve(
        self,
        experiment_id: str,
        input_data: dict[str, object],
        *,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """`serve` for asyncio callers."""
        ref = self._ref(experiment_id)
        return await self._path.aserve_at(ref, experiment_id, input_data, parameters, timeout_ms, key)

    def record_outcome(self, test_id: str, request_id: str, value: float, *, metric: str = "conversion") -> bool:
        """Report a business outcome (a conversion, a rating, revenue) for a request an A/B test served.

        Returns False when the test or the request is unknown, or the test has ended.

        Raises:
            ValueError: when `value` is not a finite number or `metric` is a built-in one.
        """
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ConfigError(f"value: must be a finite number (got {value!r})", field="value")
        if metric in ("success_rate", "error_rate", "latency", "cost") or not isinstance(metric, str) or not metric:
            raise ConfigError(f"metric: must be a custom metric name (got {metric!r})", field="metric")
        ref = self._ref(test_id)
        if ref is None or self.kind(test_id) != "ab_test":
            return False
        reply: SyncReply[bool] = SyncReply()
        return self._control.call(ref, RecordOutcome(request_id, metric, float(value), reply), reply, "record_outcome")

    def record_covariate(self, test_id: str, key: str, value: float) -> bool:
        """Give the pre-period covariate of sticky key `key` (its last month's conversions, say) for CUPED.

        Returns False when the test is unknown or has ended.

        Raises:
            ValueError: when `value` is not a finite number or `key` is not a non-empty string.
        """
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ConfigError(f"value: must be a finite number (got {value!r})", field="value")
        if not isinstance(key, str) or not key:
            raise ConfigError(f"key: must be a non-empty string (got {key!r})", field="key")
        ref = self._ref(test_id)
        if ref is None or self.kind(test_id) != "ab_test":
            return False
        reply: SyncReply[bool] = SyncReply()
        return self._control.call(ref, RecordCovariate(key, float(value), reply), reply, "record_covariate")

    # --- reports and stopping --------------------------------------------------

    def report(self, experiment_id: str) -> dict[str, object] | None:
        """The experiment's current figures (final ones once stopped), or None if unknown."""
        ref = self._ref(experiment_id)
        if ref is None:
            with self._lock:
                return self._final.get(experiment_id) if isinstance(experiment_id, str) else None
        reply: SyncReply[dict[str, object]] = SyncReply()
        try:
            return self._control.call(ref, Analyze(reply), reply, "report")
        except RuntimeError:
            with self._lock:
                return self._final.get(experiment_id)

    def settle(self, experiment_id: str, timeout: float = 10.0) -> bool:
        """Wait until every request the experiment forwarded has been answered (shadow copies included).

        Returns False on timeout or for an unknown experiment.
        """
        ref = self._ref(experiment_id)
        if ref is None:
            return False
        reply: SyncReply[bool] = SyncReply()
        try:
            ref.tell(Settle(reply))
        except pykka.ActorDeadError:
            return False
        return reply.wait(timeout) and reply.value()

    def stop(self, experiment_id: str) -> dict[str, object] | None:
        """Stop the experiment (it answers every request it holds); returns its final report."""
        with self._lock:
            entry = self._live.pop(experiment_id, None) if isinstance(experiment_id, str) else None
        if entry is None:
            return None
        reply: SyncReply[dict[str, object]] = SyncReply()
        try:
            final = self._control.call(entry[1], StopExperiment(reply), reply, "stop")
        except (RuntimeError, TimeoutError):
            entry[1].stop(block=False)
            final = {"experiment_id": experiment_id, "kind": entry[0], "stopped": True}
        with self._lock:
            self._final[experiment_id] = final
        return final

    def list(self) -> dict[str, str]:
        """Running experiments: id → kind."""
        with self._lock:
            return {eid: kind for eid, (kind, _) in self._live.items()}

    def stop_all(self) -> None:
        """Refuse every start from now on, then stop each running experiment.

        The runtime's `stop()` calls this first.
        """
        with self._lock:
            self._closed = True
            running = list(self._live)
        for experiment_id in running:
            self.stop(experiment_id)
