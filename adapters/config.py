"""The TOML config the CLI runs: models, versions, backends, metrics and a traffic scenario.

`[invoker]` is the default backend (its `type` and settings); `[invokers.<name>]`
tables configure the backends versions choose by `framework` or
`parameters.invoker`. A relative `parameters.model_path` is resolved against
the config file's folder.

Every unknown key and wrong type is a `ConfigError` whose message starts with
the file and the dotted key, e.g. `quickstart.toml: models[0].versions[1].serving.replicas: ...`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from actorserve.adapters.config_tables import (
    MetricsConfig,
    ServerConfig,
    StateConfig,
    Table,
    TableReader,
    metrics_table,
    positive,
    server_table,
    state_table,
)
from actorserve.domain.config import ServingConfig
from actorserve.domain.entities import ModelVersion
from actorserve.domain.enums import ModelStatus, ModelType, RoutingStrategy, coerce_enum
from actorserve.domain.errors import ConfigError
from actorserve.domain.routing import RoutingRule

__all__ = [
    "AppConfig",
    "ExperimentConfig",
    "MetricsConfig",
    "ModelConfig",
    "ServerConfig",
    "StateConfig",
    "TrafficConfig",
    "load_config",
    "parse_config",
    "parse_version",
]


DEFAULT_PROMPTS = ("Hello!", "Summarise the actor model in one line.", "What is a canary release?")


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """The load the CLI drives through the runtime."""

    requests: int = 1000
    concurrency: int = 8
    duration_s: float | None = None
    timeout_ms: float | None = None
    mix: dict[str, float] = field(default_factory=dict)
    prompts: tuple[str, ...] = DEFAULT_PROMPTS


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One model: its versions, its routing rule, and sample inputs for the traffic (else prompts)."""

    name: str
    versions: tuple[ModelVersion, ...]
    routing: RoutingRule | None = None
    inputs: tuple[dict[str, object], ...] = ()


_NUMBER = (int, float)
EXPERIMENT_SETTINGS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "ab_test": {
        "arms": list,
        "weights": list,
        "success_metric": str,
        "alpha": _NUMBER,
        "min_samples": int,
        "duration_s": _NUMBER,
        "higher_is_better": bool,
        "sequential": bool,
        "tau": _NUMBER,
        "mde": _NUMBER,
        "power": _NUMBER,
        "conclude": str,
        "covariates": dict,
    },
    "shadow": {
        "primary": str,
        "shadow": str,
        "traffic_percentage": _NUMBER,
        "queue_size": int,
        "shadow_timeout_ms": _NUMBER,
        "rel_tol": _NUMBER,
        "abs_tol": _NUMBER,
    },
    "ensemble": {"members": list, "aggregation_method": str, "weights": dict, "min_agreements": int, "vote_on": str},
    "canary": {
        "baseline": str,
        "candidate": str,
        "steps": list,
        "min_requests": int,
        "max_error_rate_increase": _NUMBER,
        "max_p95_ratio": _NUMBER,
        "p95_slack_ms": _NUMBER,
        "auto_unload": bool,
    },
}
"""Each experiment type's settings and their TOML types (they map onto `runtime.experiments`)."""

_VERSION_REFS = {"arms", "primary", "shadow", "members", "baseline", "candidate"}
_REQUIRED = {
    "ab_test": ("arms",),
    "shadow": ("primary", "shadow"),
    "ensemble": ("members",),
    "canary": ("baseline", "candidate"),
}
_NUMBER_LISTS = {("ab_test", "weights"), ("canary", "steps")}


@dataclass(frozen=True, slots=True)
class ExperimentConfig:
    """One experiment to start before the traffic runs."""

    id: str
    type: str
    settings: dict[str, object]
    where: str


@dataclass(frozen=True, slots=True)
class AppConfig:
    """A whole config file."""

    invoker: str
    invoker_settings: dict[str, object]
    models: tuple[ModelConfig, ...]
    traffic: TrafficConfig
    seed: int | None = None
    ready_timeout_s: float = 30.0
    experiments: tuple[ExperimentConfig, ...] = ()
    invokers: dict[str, dict[str, object]] = field(default_factory=dict)
    metrics: MetricsConfig | None = None
    state: StateConfig | None = None
    server: ServerConfig | None = None


def _version(table: object, where: str, model_name: str, model_type: ModelType) -> ModelVersion:
    r = TableReader(table, where, ("id", "number", "parameters", "metadata", "endpoint", "framework", "serving"))
    vid = r.get("id", str, required=True)
    number = r.get("number", str, "1.0.0")
    parameters = r.get("parameters", dict, {})
    metadata = r.get("metadata", dict, {})
    endpoint = r.get("endpoint", str)
    framework = r.get("framework", str, "pytorch")
    serving_table = r.get("serving", dict, {})
    r.done()
    serving = ServingConfig.from_mapping(serving_table, where=f"{where}.serving")  # type: ignore[arg-type]
    try:
        return ModelVersion(
            version_id=vid,  # type: ignore[arg-type]
            model_name=model_name,
            version_number=number,  # type: ignore[arg-type]
            model_type=model_type,
            status=ModelStatus.LOADING,
            endpoint=endpoint,  # type: ignore[arg-type]
            framework=framework,  # type: ignore[arg-type]
            parameters=dict(parameters),  # type: ignore[call-overload]
            metadata=dict(metadata),  # type: ignore[call-overload]
            serving=serving,
        )
    except ConfigError as exc:
        field_name = "id" if exc.field == "version_id" else exc.field
        raise ConfigError(
            f"{where}.{field_name}: {str(exc).split(': ', 1)[1]}", field=f"{where}.{field_name}"
        ) from None


def parse_version(
    table: object, model_name: str, model_type: ModelType = ModelType.CUSTOM_MODEL, *, where: str = "version"
) -> ModelVersion:
    """One `[[models.versions]]` table (id, number, parameters, metadata, endpoint, framework, serving) as a version.

    Raises:
        ConfigError: naming the bad key under `where`.
    """
    return _version(table, where, model_name, model_type)


def _model(table: object, where: str) -> ModelConfig:
    r = TableReader(table, where, ("name", "type", "versions", "routing", "inputs"))
    name = r.get("name", str, required=True)
    assert isinstance(name, str)
    if not name.strip():
        raise ConfigError(f"{where}.name: must be a non-empty string", field=f"{where}.name")
    model_type = coerce_enum(ModelType, r.get("type", str, "custom_model"), f"{where}.type")
    versions_raw = r.get("versions", list, required=True)
    routing_raw = r.get("routing", dict)
    inputs = r.get("inputs", list, [])
    r.done()
    assert isinstance(inputs, list)
    for i, sample in enumerate(inputs):
        if not isinstance(sample, dict):
            msg = f"{where}.inputs[{i}]: must be a table (an input_data sample)"
            raise ConfigError(msg, field=f"{where}.inputs[{i}]")
    assert isinstance(versions_raw, list)
    if not versions_raw:
        raise ConfigError(f"{where}.versions: needs at least one version", field=f"{where}.versions")
    versions = tuple(_version(v, f"{where}.versions[{i}]", name, model_type) for i, v in enumerate(versions_raw))
    rule = None
    if routing_raw is not None:
        rr = TableReader(routing_raw, f"{where}.routing", ("strategy", "weights"))
        strategy = rr.get("strategy", str, required=True)
        weights = rr.get("weights", dict)
        rr.done()
        try:
            rule = RoutingRule.create(coerce_enum(RoutingStrategy, strategy, "strategy"), weights)  # type: ignore[arg-type]
        except ConfigError as exc:
            raise ConfigError(f"{where}.routing.{exc}", field=f"{where}.routing.{exc.field}") from None
    return ModelConfig(name=name, versions=versions, routing=rule, inputs=tuple(inputs))


def _traffic(
    table: object, models: tuple[ModelConfig, ...], experiments: tuple[ExperimentConfig, ...]
) -> TrafficConfig:
    r = TableReader(table, "traffic", ("requests", "concurrency", "duration_s", "timeout_ms", "mix", "prompts"))
    requests = r.get("requests", int, 1000)
    concurrency = r.get("concurrency", int, 8)
    duration = r.get("duration_s", (int, float))
    timeout = r.get("timeout_ms", (int, float))
    mix_raw = r.get("mix", dict, {})
    prompts = r.get("prompts", list)
    r.done()
    for name, value in (
        ("requests", requests),
        ("concurrency", concurrency),
        ("duration_s", duration),
        ("timeout_ms", timeout),
    ):
        positive(value, f"traffic.{name}")
    assert isinstance(mix_raw, dict)
    known = {m.name for m in models} | {e.id for e in experiments}
    mix: dict[str, float] = {}
    for name, weight in mix_raw.items():
        if name not in known:
            raise ConfigError(
                f"traffic.mix.{name}: no such model or experiment (known: {', '.join(sorted(known))})",
                field=f"traffic.mix.{name}",
            )
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
            raise ConfigError(
                f"traffic.mix.{name}: must be a number >= 0 (got {weight!r})", field=f"traffic.mix.{name}"
            )
        mix[name] = float(weight)
    if mix and sum(mix.values()) <= 0:
        raise ConfigError("traffic.mix: needs a weight > 0", field="traffic.mix")
    if prompts is not None and (
        not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts)
    ):
        raise ConfigError("traffic.prompts: must be a non-empty list of strings", field="traffic.prompts")
    return TrafficConfig(
        requests=requests,  # type: ignore[arg-type]
        concurrency=concurrency,  # type: ignore[arg-type]
        duration_s=None if duration is None else float(duration),  # type: ignore[arg-type]
        timeout_ms=None if timeout is None else float(timeout),  # type: ignore[arg-type]
        mix=mix or {m.name: 1.0 for m in models},
        prompts=tuple(prompts) if prompts else DEFAULT_PROMPTS,
    )


def _experiment(table: object, where: str, versions: set[str]) -> ExperimentConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table (got {type(table).__name__})", field=where)
    kind = table.get("type")
    if kind not in EXPERIMENT_SETTINGS:
        allowed = ", ".join(EXPERIMENT_SETTINGS)
        raise ConfigError(f"{where}.type: must be one of {allowed} (got {kind!r})", field=f"{where}.type")
    assert isinstance(kind, str)
    spec = EXPERIMENT_SETTINGS[kind]
    r = TableReader(table, where, ("type", "id", *spec))
    experiment_id = r.get("id", str, required=True)
    assert isinstance(experiment_id, str)
    if not experiment_id.strip():
        raise ConfigError(f"{where}.id: must be a non-empty string", field=f"{where}.id")
    settings = {name: r.get(name, kinds) for name in spec for kinds in (spec[name],) if name in table}
    for name in _REQUIRED[kind]:
        r.get(name, spec[name], required=True)
    _check_items(kind, settings, where, versions)
    return ExperimentConfig(id=experiment_id, type=kind, settings=settings, where=where)


def _check_items(kind: str, settings: dict[str, object], where: str, versions: set[str]) -> None:
    """Each element of an experiment's lists and tables: version ids declared, numbers numbers."""
    for name in [n for n in settings if n in _VERSION_REFS]:
        value = settings[name]
        refs = value if isinstance(value, list) else [value]
        for i, ref in enumerate(refs):
            key = f"{where}.{name}[{i}]" if isinstance(value, list) else f"{where}.{name}"
            if not isinstance(ref, str):
                raise ConfigError(f"{key}: must be a version id string (got {ref!r})", field=key)
            if ref not in versions:
                raise ConfigError(f"{where}.{name}: {ref!r} is not a declared version", field=f"{where}.{name}")
    for name, value in settings.items():
        if (kind, name) in _NUMBER_LISTS:
            assert isinstance(value, list)
            for i, item in enumerate(value):
                _number(item, f"{where}.{name}[{i}]")
        elif kind == "ensemble" and name == "weights":
            assert isinstance(value, dict)
            for vid, item in value.items():
                _number(item, f"{where}.weights.{vid}")


def _number(value: object, key: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{key}: must be a number (got {value!r})", field=key)


def parse_config(data: Table) -> AppConfig:
    """Validate a parsed TOML document.

    Raises:
        ConfigError: naming the first bad key.
    """
    r = TableReader(
        data, "", ("runtime", "invoker", "invokers", "metrics", "state", "server", "models", "experiments", "traffic")
    )
    runtime = TableReader(r.get("runtime", dict, {}), "runtime", ("seed", "ready_timeout_s"))
    seed = runtime.get("seed", int)
    ready_timeout = runtime.get("ready_timeout_s", (int, float), 30.0)
    runtime.done()
    positive(ready_timeout, "runtime.ready_timeout_s")
    invoker = TableReader(r.get("invoker", dict, {}), "invoker")
    invoker.seen.update(invoker.table)
    kind = invoker.table.get("type", "simulated")
    if not isinstance(kind, str):
        raise ConfigError("invoker.type: must be str", field="invoker.type")
    settings = {k: v for k, v in invoker.table.items() if k != "type"}
    invokers = _invokers(r.get("invokers", dict, {}))
    metrics = metrics_table(r.get("metrics", dict))
    state = state_table(r.get("state", dict))
    server = server_table(r.get("server", dict))
    models_raw = r.get("models", list, required=True)
    experiments_raw = r.get("experiments", list, [])
    traffic_raw = r.get("traffic", dict, {})
    r.done()
    assert isinstance(models_raw, list)
    if not models_raw:
        raise ConfigError("models: needs at least one model", field="models")
    models = tuple(_model(m, f"models[{i}]") for i, m in enumerate(models_raw))
    ids = [v.version_id for m in models for v in m.versions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"models: version id {dupes[0]!r} is declared twice", field="models")
    assert isinstance(experiments_raw, list)
    experiments = tuple(_experiment(e, f"experiments[{i}]", set(ids)) for i, e in enumerate(experiments_raw))
    names = [m.name for m in models] + [e.id for e in experiments]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ConfigError(
            f"experiments: id {clash[0]!r} is also a model name or another experiment", field="experiments"
        )
    if seed is not None and kind == "simulated":
        settings.setdefault("seed", seed)
    return AppConfig(
        invoker=kind,
        invoker_settings=settings,
        models=models,
        traffic=_traffic(traffic_raw, models, experiments),
        seed=seed,  # type: ignore[arg-type]
        ready_timeout_s=float(ready_timeout),  # type: ignore[arg-type]
        experiments=experiments,
        invokers=invokers,
        metrics=metrics,
        state=state,
        server=server,
    )


def _invokers(table: object) -> dict[str, dict[str, object]]:
    assert isinstance(table, dict)
    out = {}
    for name, settings in table.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"invokers.{name}: must be a table of settings", field=f"invokers.{name}")
        out[str(name)] = dict(settings)
    return out


def _resolve_paths(config: AppConfig, base: Path) -> AppConfig:
    """Make each relative `parameters.model_path` and a relative SQLite state file relative to the config's folder."""
    state = config.state
    if state is not None and state.url.startswith("sqlite:///") and not state.url.startswith("sqlite:////"):
        relative = state.url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            config = replace(config, state=replace(state, url=f"sqlite:///{(base / relative).resolve()}"))
    for model in config.models:
        for version in model.versions:
            path = version.parameters.get("model_path")
            if isinstance(path, str) and not Path(path).is_absolute():
                version.parameters["model_path"] = str(base / path)
    return config


def _read_text(path: Path) -> str:
    """The file's text, or a one-line `ConfigError` that names the file and the problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", field="path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file", field="path") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read (permission denied)", field="path") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})", field="path") from None
    except ValueError as exc:  # e.g. an embedded NUL in the path
        raise ConfigError(f"{path}: cannot read ({exc})", field="path") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        msg = f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); TOML files must be UTF-8"
        raise ConfigError(msg, field="path") from None


def load_config(path: Path) -> AppConfig:
    """Read and validate a config file; every error message starts with the file name.

    Raises:
        ConfigError: a missing or unreadable file, text that is not UTF-8, bad TOML, or an invalid key.
    """
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", field="path") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply", field="path") from None
    try:
        config = parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}", field=exc.field) from None
    return _resolve_paths(config, path.parent)
