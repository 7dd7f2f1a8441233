"""Reading a version's `parameters` with errors that name the key."""

from __future__ import annotations

import os
from pathlib import Path

from actorserve.domain.entities import ModelVersion
from actorserve.domain.errors import ConfigError

__all__ = ["model_path", "param", "secret"]


def param(
    version: ModelVersion,
    name: str,
    kinds: type | tuple[type, ...],
    default: object = None,
    *,
    required: bool = False,
) -> object:
    """`version.parameters[name]`, checked against `kinds` (bool is never taken for a number).

    Raises:
        ConfigError: `parameters.<name>` missing (when required) or of the wrong type.
    """
    if name not in version.parameters:
        if required:
            raise ConfigError(f"parameters.{name}: missing", field=f"parameters.{name}")
        return default
    value = version.parameters[name]
    kinds_t = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, kinds_t) or (isinstance(value, bool) and bool not in kinds_t):
        expected = " or ".join(k.__name__ for k in kinds_t)
        msg = f"parameters.{name}: must be {expected} (got {type(value).__name__})"
        raise ConfigError(msg, field=f"parameters.{name}")
    return value


def model_path(version: ModelVersion) -> Path:
    """The local model file: `parameters.model_path`, else `endpoint`.

    Raises:
        ConfigError: neither is set.
    """
    path = param(version, "model_path", (str, os.PathLike))
    if path is None:
        path = version.endpoint
    if not path:
        raise ConfigError("parameters.model_path: missing (or set endpoint to the file)", field="parameters.model_path")
    return Path(path)  # type: ignore[arg-type]


def secret(version: ModelVersion, name: str, env_name: str | None, default_env: str | None = None) -> str | None:
    """A credential: `parameters[name]`, else an environment variable. Never log what this returns.

    The variable is the one `parameters[env_name]` names, else `default_env`.

    Raises:
        ConfigError: a parameter of the wrong type, or a named variable that is unset.
    """
    value = param(version, name, str)
    if value is not None:
        return str(value)
    variable = param(version, env_name, str) if env_name else None
    if variable is not None:
        found = os.environ.get(str(variable))
        if found is None:
            msg = f"parameters.{env_name}: environment variable {variable!r} is not set"
            raise ConfigError(msg, field=f"parameters.{env_name}")
        return found
    return os.environ.get(default_env) if default_env else None
