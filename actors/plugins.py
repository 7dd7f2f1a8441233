"""Invoker factories by name, through the `actorserve.invokers` entry-point group.

Host apps add their own backends by declaring an entry point in that group;
the runtime and the CLI resolve names here, so `actors` never imports `adapters`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import cast

from domain.errors import ConfigError
from domain.ports import ModelInvoker

__all__ = ["invoker_names", "load_invoker"]

GROUP = "actorserve.invokers"


def invoker_names() -> list[str]:
    """Names of the installed invoker factories, sorted."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def _check_settings(name: str, factory: Callable[..., object], settings: dict[str, object]) -> None:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [p for p in params if params[p].kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in settings:
        if key not in known:
            msg = f"invoker.{key}: unknown setting for {name!r} (expected one of: {', '.join(known)})"
            raise ConfigError(msg, field=f"invoker.{key}")


def load_invoker(name: str, /, **settings: object) -> ModelInvoker:
    """Build the invoker registered under `name` with `settings`.

    Raises:
        ConfigError: unknown name, or settings the factory rejects.
    """
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            factory = ep.load()
            _check_settings(name, factory, settings)
            try:
                return cast("ModelInvoker", factory(**settings))
            except ConfigError as exc:
                raise ConfigError(f"invoker.{exc}", field=f"invoker.{exc.field}") from None
            except TypeError as exc:
                raise ConfigError(f"invoker {name!r}: {exc}", field="invoker") from None
    installed = ", ".join(invoker_names()) or "none"
    msg = f"invoker: unknown {name!r} (installed: {installed})"
    raise ConfigError(msg, field="invoker")
