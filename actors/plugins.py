"""Invoker factories by name, through the `actorserve.invokers` entry-point group (exporters and servers too).

Host apps add their own backends by declaring an entry point in that group,
or at run time with `register_invoker_factory`; the runtime and the CLI
resolve names here, so `actors` never imports `adapters`.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import cast

from actorserve.domain.errors import ConfigError, StateError
from actorserve.domain.ports import MetricsExporter, ModelInvoker, NetworkServer, StateStore, StateStoreFactory

__all__ = [
    "invoker_names",
    "load_exporter",
    "load_invoker",
    "load_server",
    "open_state_store",
    "register_invoker_factory",
]

GROUP = "actorserve.invokers"
EXPORTERS = "actorserve.exporters"
SERVERS = "actorserve.servers"
STORES = "actorserve.state"

_factories: dict[str, Callable[..., ModelInvoker]] = {}
_factories_lock = threading.Lock()
_entry_point_names: frozenset[str] | None = None


def register_invoker_factory(name: str, factory: Callable[..., ModelInvoker]) -> None:
    """Make `name` resolve to `factory(**settings)`, ahead of any entry point of that name."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name: must be a non-empty string (got {name!r})", field="name")
    if not callable(factory):
        raise ConfigError(f"factory: must be callable (got {type(factory).__name__})", field="factory")
    with _factories_lock:
        _factories[name] = factory


def _entry_points() -> frozenset[str]:
    global _entry_point_names  # noqa: PLW0603 - the installed set is read once per process
    if _entry_point_names is None:
        _entry_point_names = frozenset(ep.name for ep in entry_points(group=GROUP))
    return _entry_point_names


def invoker_names() -> list[str]:
    """Names of the registered and installed invoker factories, sorted."""
    with _factories_lock:
        return sorted(_entry_points() | set(_factories))


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


def _factory(name: str, group: str = GROUP) -> Callable[..., object] | None:
    if group == GROUP:
        with _factories_lock:
            registered = _factories.get(name)
        if registered is not None:
            return registered
    for ep in entry_points(group=group):
        if ep.name == name:
            return cast("Callable[..., object]", ep.load())
    return None


def load_invoker(name: str, /, **settings: object) -> ModelInvoker:
    """Build the invoker registered under `name` with `settings`.

    Raises:
        ConfigError: unknown name, a missing optional dependency, or settings the factory rejects.
    """
    factory = _factory(name)
    if factory is None:
        installed = ", ".join(invoker_names()) or "none"
        msg = f"invoker: unknown {name!r} (installed: {installed})"
        raise ConfigError(msg, field="invoker")
    _check_settings(name, factory, settings)
    try:
        return cast("ModelInvoker", factory(**settings))
    except ConfigError as exc:
        if exc.field.startswith("invoker"):
            raise
        raise ConfigError(f"invoker.{exc}", field=f"invoker.{exc.field}") from None
    except TypeError as exc:
        raise ConfigError(f"invoker {name!r}: {exc}", field="invoker") from None


def load_exporter(name: str, /, **settings: object) -> MetricsExporter:
    """Build the metrics exporter registered under `name` in the `actorserve.exporters` group.

    Raises:
        ConfigError: unknown name, or a missing optional dependency.
    """
    factory = _factory(name, EXPORTERS)
    if factory is None:
        installed = ", ".join(sorted({ep.name for ep in entry_points(group=EXPORTERS)})) or "none"
        msg = f"exporter: unknown {name!r} (installed: {installed})"
        raise ConfigError(msg, field="exporter")
    return cast("MetricsExporter", factory(**settings))


def _mask(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def open_state_store(url: str, *, namespace: str) -> StateStore:
    """Open the state store `url` names, found by its scheme in the `actorserve.state` group.

    `sqlite:///relative.db`, `sqlite:////absolute.db`, `redis://host:port/db`,
    `unix:///path/redis.sock`, ... (whatever stores are installed).

    Raises:
        StateError: no store answers to the scheme (naming the installed ones), or the store cannot be opened.
    """
    names = sorted({ep.name for ep in entry_points(group=STORES)})
    scheme, sep, _ = url.partition("://") if isinstance(url, str) else ("", "", "")
    scheme = scheme.lower() if sep else ("sqlite" if url == ":memory:" else "")
    factory = _factory(scheme, STORES) if scheme else None
    if factory is None:
        shown = _mask(url) if isinstance(url, str) else repr(url)
        what = f"unknown scheme {scheme!r}" if scheme else "not a store URL"
        raise StateError(f"{shown}: {what}; installed stores: {', '.join(names) or 'none'}", url=shown)
    return cast("StateStoreFactory", factory).from_url(url, namespace=namespace)


def load_server(name: str, runtime: object, /, **options: object) -> NetworkServer:
    """Build the network server registered under `name` in the `actorserve.servers` group for `runtime`.

    Raises:
        ConfigError: unknown name, a missing optional dependency, or an option the server rejects.
    """
    factory = _factory(name, SERVERS)
    if factory is None:
        installed = ", ".join(sorted({ep.name for ep in entry_points(group=SERVERS)})) or "none"
        msg = f"server: unknown {name!r} (installed: {installed})"
        raise ConfigError(msg, field="server")
    return cast("NetworkServer", factory(runtime, **options))
