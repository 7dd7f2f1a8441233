"""The reader every config table goes through, and the small tables: `[metrics]`, `[state]`, `[server]`.

Every unknown key and wrong type is a `ConfigError` whose message names the
dotted key; `config.py` adds the file name in front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from actorserve.domain.errors import ConfigError

__all__ = [
    "MetricsConfig",
    "ServerConfig",
    "StateConfig",
    "Table",
    "TableReader",
    "metrics_table",
    "positive",
    "server_table",
    "state_table",
]

Table = dict[str, object]


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Where the CLI serves Prometheus metrics while it runs."""

    port: int = 9464
    host: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class StateConfig:
    """`[state]`: where the runtime keeps versions, routing rules and experiments (README "State").

    A relative `sqlite:///file.db` is resolved against the config file's folder.
    """

    url: str
    namespace: str = "actorserve"
    flush_interval_s: float = 1.0


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What `actorserve serve` listens on, and the HTTP front's options (`create_app`'s keywords)."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys_env: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    public_paths: tuple[str, ...] = ("/v2/health/live", "/v2/health/ready", "/metrics")

    def app_options(self) -> dict[str, object]:
        """The keywords for `ServingRuntime.serve_http` / `create_app`."""
        return {
            "api_keys_env": self.api_keys_env,
            "max_body_bytes": self.max_body_bytes,
            "public_paths": self.public_paths,
        }


class TableReader:
    """Walks a table, naming every key it reads; rejects the ones left over."""

    def __init__(self, table: object, where: str, allowed: tuple[str, ...] | None = None) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table (got {type(table).__name__})", field=where)
        self.table: Table = table
        self.where = where
        self.seen: set[str] = set(allowed or ())
        if allowed is not None:
            self.done()  # unknown keys first: a typo explains a "missing" key better

    def key(self, name: str) -> str:
        """The dotted key of `name` in this table."""
        return f"{self.where}.{name}" if self.where else name

    def get(
        self, name: str, kinds: type | tuple[type, ...], default: object = None, *, required: bool = False
    ) -> object:
        """The value of `name`, checked to be one of `kinds` (`default` when absent, unless `required`)."""
        self.seen.add(name)
        if name not in self.table:
            if required:
                raise ConfigError(f"{self.key(name)}: missing", field=self.key(name))
            return default
        value = self.table[name]
        kinds_t = kinds if isinstance(kinds, tuple) else (kinds,)
        ok = isinstance(value, kinds_t) and not (isinstance(value, bool) and bool not in kinds_t)
        if not ok:
            expected = " or ".join(k.__name__ for k in kinds_t)
            raise ConfigError(
                f"{self.key(name)}: must be {expected} (got {type(value).__name__})", field=self.key(name)
            )
        return value

    def done(self) -> None:
        """Refuse every key that was not read (a typo, or a key this release does not know)."""
        extra = sorted(set(self.table) - self.seen)
        if extra:
            allowed = ", ".join(sorted(self.seen))
            raise ConfigError(
                f"{self.key(extra[0])}: unknown key (expected one of: {allowed})", field=self.key(extra[0])
            )


def positive(value: object, where: str) -> None:
    """Refuse a number that is not finite and > 0, naming `where`."""
    if isinstance(value, int | float) and (not math.isfinite(value) or value <= 0):
        raise ConfigError(f"{where}: must be > 0 (got {value!r})", field=where)


def metrics_table(table: object) -> MetricsConfig | None:
    """`[metrics]`, or None when absent."""
    if table is None:
        return None
    r = TableReader(table, "metrics", ("port", "host"))
    port = r.get("port", int, 9464)
    host = r.get("host", str, "127.0.0.1")
    r.done()
    if not 0 <= port <= 65535:  # type: ignore[operator]
        raise ConfigError(f"metrics.port: must be 0-65535 (got {port!r})", field="metrics.port")
    return MetricsConfig(port=port, host=host)  # type: ignore[arg-type]


def state_table(table: object) -> StateConfig | None:
    """`[state]`, or None when absent."""
    if table is None:
        return None
    r = TableReader(table, "state", ("url", "namespace", "flush_interval_s"))
    url = r.get("url", str, required=True)
    namespace = r.get("namespace", str, "actorserve")
    interval = r.get("flush_interval_s", (int, float), 1.0)
    r.done()
    positive(interval, "state.flush_interval_s")
    assert isinstance(url, str)
    assert isinstance(namespace, str)
    assert isinstance(interval, int | float)
    if "://" not in url and url != ":memory:":
        msg = f"state.url: must be a store URL such as sqlite:///state.db or redis://host:6379/0 (got {url!r})"
        raise ConfigError(msg, field="state.url")
    return StateConfig(url=url, namespace=namespace, flush_interval_s=float(interval))


def server_table(table: object) -> ServerConfig | None:
    """`[server]`, or None when absent."""
    if table is None:
        return None
    r = TableReader(table, "server", ("host", "port", "api_keys_env", "max_body_bytes", "public_paths"))
    default = ServerConfig()
    host = r.get("host", str, default.host)
    port = r.get("port", int, default.port)
    env = r.get("api_keys_env", str)
    limit = r.get("max_body_bytes", int, default.max_body_bytes)
    paths = r.get("public_paths", list, list(default.public_paths))
    r.done()
    if not 0 <= port <= 65535:  # type: ignore[operator]
        raise ConfigError(f"server.port: must be 0-65535 (got {port!r})", field="server.port")
    if limit < 1:  # type: ignore[operator]
        raise ConfigError(f"server.max_body_bytes: must be >= 1 (got {limit!r})", field="server.max_body_bytes")
    if env is not None and not env:
        raise ConfigError("server.api_keys_env: must name an environment variable", field="server.api_keys_env")
    assert isinstance(paths, list)
    for i, path in enumerate(paths):
        if not isinstance(path, str) or not path.startswith("/"):
            msg = f"server.public_paths[{i}]: must be a path starting with / (got {path!r})"
            raise ConfigError(msg, field=f"server.public_paths[{i}]")
    return ServerConfig(host=host, port=port, api_keys_env=env, max_body_bytes=limit, public_paths=tuple(paths))  # type: ignore[arg-type]
