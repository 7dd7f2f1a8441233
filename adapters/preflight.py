"""What `actorserve run` checks before it serves, shared with `actorserve check`.

`validate_config` makes, without starting an actor or loading a model, every
check that `run` would meet on the way: per version what
`ServingRuntime.register` checks (its `price_*` parameters through a
`PriceTable`, then its backend's `validate` through the `InvokerSet`), then
each experiment's spec as `runtime.experiments` builds it, then the `[server]`
table as the HTTP front's `create_app` checks it. `run` calls it
first too, so a config `check` accepts is one `run` starts, and both report a
problem the same way: a `ConfigError` whose message starts with the dotted
key (`models[0].versions[1].parameters.latency_ms: ...`,
`experiments[0].min_agreements: ...`).

`experiment_spec` and `start_experiment` are the two readings of an
`[[experiments]]` table side by side: the spec `runtime.experiments` builds
from the call `start_experiment` makes (same defaults, same conversions).
"""

from __future__ import annotations

from typing import Any

from actorserve.actors import InvokerSet
from actorserve.actors.experiments import Experiments, ShadowSpec
from actorserve.actors.experiments.specs import ab_test_spec, canary_spec, ensemble_spec, shadow_spec
from actorserve.adapters.config import AppConfig, ExperimentConfig
from actorserve.domain.abtest import ABTestSpec
from actorserve.domain.canary import CanarySpec
from actorserve.domain.cost import PriceTable
from actorserve.domain.ensemble import EnsembleSpec
from actorserve.domain.errors import ConfigError

__all__ = ["check_server", "experiment_error", "experiment_spec", "start_experiment", "validate_config"]

ExperimentSpec = ABTestSpec | ShadowSpec | EnsembleSpec | CanarySpec

_CONFIG_KEYS = {
    "test_id": "id",
    "shadow_id": "id",
    "ensemble_id": "id",
    "canary_id": "id",
    "model_versions": "members",
    "primary_model_id": "primary",
    "shadow_model_id": "shadow",
}
"""Field names `runtime.experiments` reports → the config key they come from."""


def _under(where: str, exc: ConfigError, names: dict[str, str] | None = None) -> ConfigError:
    """`exc`, about a field of a version or an experiment, moved under the config key `where`."""
    head, sep, rest = str(exc).partition(": ")
    name = (names or {}).get(exc.field, exc.field)
    if head == exc.field:
        head = name
    return ConfigError(f"{where}.{head}{sep}{rest}", field=f"{where}.{name}")


def experiment_error(e: ExperimentConfig, exc: ConfigError) -> ConfigError:
    """An error from `runtime.experiments` (or a spec) renamed to the experiment's config key.

    `weights: must be numbers >= 0` becomes `experiments[0].weights: ...`, and
    the API's own argument names map back to the config's (`model_versions` →
    `members`, `test_id` → `id`).
    """
    return _under(e.where, exc, _CONFIG_KEYS)


def experiment_spec(e: ExperimentConfig) -> ExperimentSpec:
    """The spec `runtime.experiments` builds for `e`, built by the same functions without starting anything.

    Raises:
        ConfigError: naming the experiment's key, e.g. `experiments[2].min_agreements: ...`.
    """
    s: dict[str, Any] = dict(e.settings)
    try:
        if e.type == "ab_test":
            return ab_test_spec(e.id, s.pop("arms"), s.pop("weights", None), **s)
        if e.type == "shadow":
            return shadow_spec(e.id, s.pop("primary"), s.pop("shadow"), **s)
        if e.type == "ensemble":
            return ensemble_spec(s.pop("members"), **s)
        s.pop("auto_unload", None)  # the actor's, not the spec's
        return canary_spec(s.pop("baseline"), s.pop("candidate"), **s)
    except ConfigError as exc:
        raise experiment_error(e, exc) from None


def start_experiment(experiments: Experiments, e: ExperimentConfig) -> str:
    """Start `e` on a runtime's `experiments`; returns its id.

    Raises:
        ConfigError: naming the experiment's key.
    """
    s = dict(e.settings)
    try:
        if e.type == "ab_test":
            weights = s.pop("weights", None)
            return experiments.start_ab_test(s.pop("arms"), weights, test_id=e.id, **s)  # type: ignore[arg-type]
        if e.type == "shadow":
            return experiments.start_shadow(s.pop("primary"), s.pop("shadow"), shadow_id=e.id, **s)  # type: ignore[arg-type]
        if e.type == "ensemble":
            return experiments.create_ensemble(s.pop("members"), ensemble_id=e.id, **s)  # type: ignore[arg-type]
        return experiments.start_canary(s.pop("baseline"), s.pop("candidate"), canary_id=e.id, **s)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise experiment_error(e, exc) from None


def validate_config(config: AppConfig, invokers: InvokerSet) -> None:
    """Check everything `run` would check before serving, in the order it would meet it.

    Starts no actor and loads no model: per version, its `price_*`
    parameters and its backend's `validate(version)` through `invokers` (what
    `ServingRuntime.register` checks); then each experiment's spec.

    Args:
        config: a parsed config (`load_config`).
        invokers: the backends `run` would serve with (`cli.build_invokers`).

    Raises:
        ConfigError: the first problem, its message starting with the dotted key.
    """
    for i, model in enumerate(config.models):
        for j, version in enumerate(model.versions):
            try:
                PriceTable().price_for(version)
                invokers.validate(version)
            except ConfigError as exc:
                raise _under(f"models[{i}].versions[{j}]", exc) from None
    for e in config.experiments:
        experiment_spec(e)
    check_server(config)


def check_server(config: AppConfig) -> None:
    """Check the `[server]` table as `create_app` will (the `server` extra is needed for one).

    Raises:
        ConfigError: `server.<option>: ...`, or the missing extra.
    """
    if config.server is None:
        return
    from actorserve.adapters.http.options import app_options

    try:
        app_options(**config.server.app_options())  # type: ignore[arg-type]
    except ConfigError as exc:
        raise _under("server", exc) from None
