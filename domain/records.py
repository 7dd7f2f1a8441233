"""What the state store keeps of versions and routing rules: JSON records, and the way back.

Pure: a record is a JSON object (`domain.state.Document`) built from a
`ModelVersion` or a `RoutingRule`, and read back into one with every field
checked again, so a record edited by hand or written by another release is
refused field by field (`ConfigError` naming it) instead of half-read.

Secrets never reach a record: every secret-looking parameter
(`domain.redaction.is_secret_name`, nested tables included) is dropped and
its name listed under `dropped_secrets`. A version read back from such a
record carries `NOT_STORED` in their place, and its load fails with a
message saying to use `api_key_env` (`missing_secrets_error`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import datetime

from actorserve.domain.config import ServingConfig
from actorserve.domain.entities import ModelVersion
from actorserve.domain.enums import ModelStatus
from actorserve.domain.errors import ConfigError
from actorserve.domain.redaction import is_secret_name
from actorserve.domain.routing import BanditSettings, RoutingRule
from actorserve.domain.state import Document

__all__ = [
    "NOT_STORED",
    "ROUTING",
    "VERSION",
    "missing_secrets_error",
    "routing_from_record",
    "routing_record",
    "version_from_record",
    "version_record",
]

VERSION = "version"
"""Document kind of version records (key: the version id)."""

ROUTING = "routing"
"""Document kind of routing rules (key: the model name)."""

NOT_STORED = "<secret not stored: use an *_env parameter>"
"""What a dropped secret reads as in a version restored from its record."""

_RECORD = 1
"""Layout of a record; a record with a higher number is refused."""


def _json_ready(value: object, field: str) -> object:
    """`value` as JSON would keep it, or ConfigError naming `field` (a set, an object, NaN...)."""
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        msg = f"{field}: cannot be stored as JSON ({exc})"
        raise ConfigError(msg, field=field) from None
    return json.loads(text)


def _drop_secrets(parameters: Mapping[str, object], prefix: str, dropped: list[str]) -> dict[str, object]:
    kept: dict[str, object] = {}
    for name, value in parameters.items():
        path = f"{prefix}{name}"
        if is_secret_name(name) and value is not None:
            dropped.append(path)
        elif isinstance(value, Mapping):
            kept[name] = _drop_secrets(value, f"{path}.", dropped)
        else:
            kept[name] = value
    return kept


def version_record(version: ModelVersion) -> Document:
    """The record of `version`: its definition and serving policy, secrets dropped.

    Status, `loaded_at` and `last_error` are not kept: a restored version loads afresh.

    Raises:
        ConfigError: a parameter or metadata value JSON cannot hold, named.
    """
    dropped: list[str] = []
    parameters = _drop_secrets(version.parameters, "", dropped)
    return {
        "record": _RECORD,
        "version_id": version.version_id,
        "model_name": version.model_name,
        "version_number": version.version_number,
        "model_type": version.model_type.value,
        "endpoint": version.endpoint,
        "framework": version.framework,
        "device": version.device,
        "batch_size": version.batch_size,
        "max_sequence_length": version.max_sequence_length,
        "parameters": _json_ready(parameters, "parameters"),
        "metadata": _json_ready(version.metadata, "metadata"),
        "created_at": version.created_at.isoformat(),
        "serving": _json_ready(dataclasses.asdict(version.serving), "serving"),
        "dropped_secrets": sorted(dropped),
    }


def _table(record: Mapping[str, object], name: str) -> dict[str, object]:
    value = record.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: must be a table in the stored record (got {type(value).__name__})", field=name)
    return value


def _put_path(parameters: dict[str, object], path: str, value: object) -> None:
    *tables, last = path.split(".")
    into = parameters
    for name in tables:
        inner = into.setdefault(name, {})
        if not isinstance(inner, dict):
            return
        into = inner
    into[last] = value


def version_from_record(record: Mapping[str, object]) -> ModelVersion:
    """A fresh `ModelVersion` (LOADING) from its record; every field checked as `ModelVersion` checks it.

    Raises:
        ConfigError: an unknown record layout, or a missing or invalid field, named.
    """
    layout = record.get("record")
    if layout != _RECORD:
        raise ConfigError(f"record: layout {layout!r} is not one this release reads ({_RECORD})", field="record")
    known = {f.name for f in dataclasses.fields(ServingConfig)}
    serving = _table(record, "serving")
    unknown = sorted(set(serving) - known)
    if unknown:
        raise ConfigError(f"serving.{unknown[0]}: not a setting this release knows", field=f"serving.{unknown[0]}")
    parameters = dict(_table(record, "parameters"))
    dropped = record.get("dropped_secrets", [])
    if not isinstance(dropped, list) or not all(isinstance(d, str) for d in dropped):
        raise ConfigError("dropped_secrets: must be a list of parameter names", field="dropped_secrets")
    for path in dropped:
        _put_path(parameters, path, NOT_STORED)
    created = record.get("created_at")
    try:
        created_at = datetime.fromisoformat(created) if isinstance(created, str) else None
    except ValueError:
        created_at = None
    if created_at is None:
        raise ConfigError(f"created_at: must be an ISO 8601 time (got {created!r})", field="created_at")
    try:
        return ModelVersion(
            version_id=record.get("version_id"),  # type: ignore[arg-type]  # checked by ModelVersion
            model_name=record.get("model_name"),  # type: ignore[arg-type]
            version_number=record.get("version_number"),  # type: ignore[arg-type]
            model_type=record.get("model_type"),  # type: ignore[arg-type]
            status=ModelStatus.LOADING,
            endpoint=record.get("endpoint"),  # type: ignore[arg-type]
            framework=str(record.get("framework", "pytorch")),
            device=str(record.get("device", "cpu")),
            batch_size=int(record.get("batch_size", 1)),  # type: ignore[call-overload]
            max_sequence_length=int(record.get("max_sequence_length", 2048)),  # type: ignore[call-overload]
            parameters=parameters,
            metadata=_table(record, "metadata"),
            created_at=created_at,
            serving=ServingConfig(**serving),  # type: ignore[arg-type]  # ServingConfig checks each value
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"record: {exc}", field="record") from None


def missing_secrets_error(version: ModelVersion) -> str | None:
    """Why `version` cannot load because a secret was not stored with it, or None."""
    missing = sorted(_not_stored(version.parameters, ""))
    if not missing:
        return None
    names = ", ".join(f"parameters.{m}" for m in missing)
    return (
        f"{names}: secrets are not kept in the state store, so this restored version has none; "
        "give it through an *_env parameter (e.g. api_key_env) and register it again"
    )


def _not_stored(parameters: Mapping[str, object], prefix: str) -> list[str]:
    found: list[str] = []
    for name, value in parameters.items():
        if value == NOT_STORED:
            found.append(f"{prefix}{name}")
        elif isinstance(value, Mapping):
            found.extend(_not_stored(value, f"{prefix}{name}."))
    return found


def routing_record(rule: RoutingRule | None) -> Document:
    """The record of a model's routing rule (None: back to newest READY)."""
    if rule is None:
        return {"record": _RECORD, "strategy": None}
    return {
        "record": _RECORD,
        "strategy": rule.strategy.value,
        "weights": {k: float(v) for k, v in rule.weights.items()},
        "bandit": dataclasses.asdict(rule.bandit),
    }


def routing_from_record(record: Mapping[str, object]) -> RoutingRule | None:
    """The rule a routing record holds, checked as `RoutingRule.create` checks it.

    Raises:
        ConfigError: an unknown layout or an invalid rule, named.
    """
    if record.get("record") != _RECORD:
        raise ConfigError(f"record: layout {record.get('record')!r} is not one this release reads", field="record")
    strategy = record.get("strategy")
    if strategy is None:
        return None
    weights = record.get("weights") or {}
    bandit = record.get("bandit") or {}
    if not isinstance(weights, dict) or not isinstance(bandit, dict):
        raise ConfigError("weights: the stored rule's weights and bandit must be tables", field="weights")
    known = {f.name for f in dataclasses.fields(BanditSettings)}
    settings = {k: float(v) for k, v in bandit.items() if k in known and _finite(v)}
    return RoutingRule.create(str(strategy), weights, settings)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
