"""Starting experiments: arguments read into specs, ids claimed (and joined), actors spawned, records kept.

The base of `Experiments` (`api.py`): it owns the table of experiments
running in this runtime, which every other call reads.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actorserve.actors.experiments.ab import ABTestActor
from actorserve.actors.experiments.base import (
    ExperimentActor,
    ExperimentDeps,
    StopExperiment,
)
from actorserve.actors.experiments.canary import CanaryActor
from actorserve.actors.experiments.ensemble import EnsembleActor
from actorserve.actors.experiments.records import STARTERS, ExperimentRecords, differing_argument, json_args
from actorserve.actors.experiments.shadow import ShadowActor
from actorserve.actors.experiments.specs import DEFAULT_STEPS, ab_test_spec, canary_spec, ensemble_spec, shadow_spec
from actorserve.actors.reply import SyncReply
from actorserve.domain.errors import ConfigError, StateError

if TYPE_CHECKING:
    import pykka

    from actorserve.actors.control import ControlPlane
    from actorserve.actors.request_path import RequestPath

__all__ = ["ExperimentStarts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Opening:
    """A start under way: its id, the run it belongs to, and its arguments as stored."""

    kind: str
    experiment_id: str
    args: dict[str, object]
    epoch: str | None = None
    stored: bool = False
    joined: bool = False


class ExperimentStarts:
    """Starts the experiments of one runtime and keeps the table of those running (thread-safe)."""

    def __init__(
        self,
        control: ControlPlane,
        path: RequestPath,
        deps: ExperimentDeps,
        seed: int | None,
        records: ExperimentRecords,
    ) -> None:
        self._control = control
        self._path = path
        self._deps = deps
        self._seed = seed
        self._records = records
        self._lock = threading.Lock()
        self._live: dict[str, tuple[str, pykka.ActorRef[Any]]] = {}
        self._args: dict[str, dict[str, object]] = {}
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

    def _open(self, kind: str, given: str | None, field: str, args: Mapping[str, object]) -> _Opening:
        """Name the experiment, and join it when it runs already (here, or in the store) with the same arguments.

        Raises:
            ConfigError: a bad id, an id in use by another start, or a stored start with other arguments.
        """
        if given is None:
            given = str(uuid.uuid4())
        elif not isinstance(given, str) or not given.strip():
            raise ConfigError(f"{field}: must be a non-empty string (got {given!r})", field=field)
        stored_args = json_args({**args, field: given})
        with self._lock:
            if given in self._final:
                raise ConfigError(f"{field}: {given!r} is already in use", field=field)
            running = self._args.get(given) if given in self._live else None
            running_kind = self._live[given][0] if given in self._live else None
        if running_kind is not None and running_kind != kind:
            raise ConfigError(f"{field}: {given!r} is a running {running_kind}, not a {kind}", field=field)
        if running is not None:
            differs = differing_argument(running, stored_args)
            if differs is not None:
                raise ConfigError(f"{field}: {given!r} is already in use (with another {differs})", field=differs)
            return _Opening(kind, given, stored_args, joined=True)
        epoch, stored = self._records.claim(kind, given, stored_args)
        return _Opening(kind, given, stored_args, epoch, stored)

    def restore(self) -> None:
        """Start again every experiment the store holds, with its stored arguments (the runtime, at start)."""
        for experiment_id, kind, args in self._records.stored():
            try:
                getattr(self, STARTERS[kind])(**args)
            except (ConfigError, StateError, TypeError) as exc:
                self._records.skip(experiment_id, str(exc))

    def _seed_for(self, experiment_id: str) -> int | None:
        if self._seed is None:
            return None
        digest = hashlib.blake2b(f"{self._seed}:{experiment_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def _start(
        self, experiment_id: str, actor: type[ExperimentActor], opening: _Opening | None = None, **kwargs: Any
    ) -> str:
        # Checked, started and recorded under one lock that stop_all also takes to close:
        # a start either lands in _live before stop_all lists it, or sees the close and raises.
        # (Starting an actor only spawns its thread, so the lock is held briefly.)
        with self._lock:
            self._check_open()
            if experiment_id in self._live or experiment_id in self._final:
                raise ConfigError(f"id: {experiment_id!r} is already in use", field="id")
            self._live[experiment_id] = (actor.kind, actor.start(deps=self._deps, **kwargs))
            if opening is not None:
                self._args[experiment_id] = opening.args
        if opening is not None and self._records.durable and not opening.stored:
            try:
                self._records.keep(opening.kind, experiment_id, opening.args, opening.epoch)
            except StateError:
                self._stop(experiment_id, forget=False)  # nothing runs that would not come back
                with self._lock:
                    self._final.pop(experiment_id, None)
                raise
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
        args: dict[str, Any] = {
            "arms": arms,
            "weights": weights,
            "success_metric": success_metric,
            "alpha": alpha,
            "min_samples": min_samples,
            "duration_s": duration_s,
            "higher_is_better": higher_is_better,
            "sequential": sequential,
            "tau": tau,
            "mde": mde,
            "power": power,
            "conclude": conclude,
            "covariates": covariates,
        }
        opening = self._open("ab_test", test_id, "test_id", args)
        test_id = opening.experiment_id
        if opening.joined:
            return test_id
        spec = ab_test_spec(test_id, **args)  # one reading of the arguments: what is stored is what is checked
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
        return self._start(
            test_id,
            ABTestActor,
            opening,
            spec=spec,
            models=models,
            seed=seed,
            promote=promote,
            stats=self._records.stats_sync(test_id, opening.epoch),
        )

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
        args: dict[str, Any] = {
            "primary": primary,
            "shadow": shadow,
            "traffic_percentage": traffic_percentage,
            "queue_size": queue_size,
            "shadow_timeout_ms": shadow_timeout_ms,
            "rel_tol": rel_tol,
            "abs_tol": abs_tol,
            "vote_on": vote_on,
        }
        opening = self._open("shadow", shadow_id, "shadow_id", args)
        shadow_id = opening.experiment_id
        if opening.joined:
            return shadow_id
        spec = shadow_spec(shadow_id, **args)
        models = {**self._models([primary], "primary_model_id"), **self._models([shadow], "shadow_model_id")}
        return self._start(shadow_id, ShadowActor, opening, spec=spec, models=models, seed=self._seed_for(shadow_id))

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
        args: dict[str, Any] = {
            "members": members,
            "aggregation_method": aggregation_method,
            "weights": weights,
            "min_agreements": min_agreements,
            "vote_on": vote_on,
        }
        opening = self._open("ensemble", ensemble_id, "ensemble_id", args)
        ensemble_id = opening.experiment_id
        if opening.joined:
            return ensemble_id
        spec = ensemble_spec(**args)
        models = self._models(spec.members, "model_versions")
        return self._start(ensemble_id, EnsembleActor, opening, ensemble_id=ensemble_id, spec=spec, models=models)

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
        args: dict[str, Any] = {
            "baseline": baseline,
            "candidate": candidate,
            "steps": steps,
            "min_requests": min_requests,
            "max_error_rate_increase": max_error_rate_increase,
            "max_p95_ratio": max_p95_ratio,
            "p95_slack_ms": p95_slack_ms,
        }
        opening = self._open("canary", canary_id, "canary_id", {**args, "auto_unload": auto_unload})
        canary_id = opening.experiment_id
        if opening.joined:
            return canary_id
        spec = canary_spec(**args)
        models = {**self._models([baseline], "baseline"), **self._models([candidate], "candidate")}
        return self._start(
            canary_id,
            CanaryActor,
            opening,
            canary_id=canary_id,
            spec=spec,
            models=models,
            seed=self._seed_for(canary_id),
            auto_unload=auto_unload,
            sync=self._records.stats_sync(canary_id, opening.epoch),
        )

    def _ref(self, experiment_id: object) -> pykka.ActorRef[Any] | None:
        with self._lock:
            entry = self._live.get(experiment_id) if isinstance(experiment_id, str) else None
        return entry[1] if entry else None

    def _stop(self, experiment_id: str, *, forget: bool) -> dict[str, object] | None:
        with self._lock:
            entry = self._live.pop(experiment_id, None) if isinstance(experiment_id, str) else None
            args = self._args.pop(experiment_id, None) if entry is not None else None
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
        if forget and args is not None and self._records.durable:
            self._records.forget(experiment_id)
        return final
