"""The front's options, checked in one place: by `create_app`, and by `actorserve check` for a `[server]` table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from actorserve.adapters.http.auth import ApiKeys
from actorserve.domain.errors import ConfigError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_PUBLIC_PATHS", "AppOptions", "app_options"]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_PUBLIC_PATHS = ("/v2/health/live", "/v2/health/ready", "/metrics")
"""Paths answered without a token even when keys are set (paths relative to where the app is mounted)."""


@dataclass(frozen=True, slots=True)
class AppOptions:
    """The app's settings, once checked."""

    api_keys: ApiKeys | None
    max_body_bytes: int
    public_paths: frozenset[str]
    load_timeout_s: float


def app_options(
    *,
    api_keys: Iterable[str] | str | None = None,
    api_keys_env: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    public_paths: Iterable[str] = DEFAULT_PUBLIC_PATHS,
    load_timeout_s: float = 60.0,
) -> AppOptions:
    """Check the options `create_app` takes (see there).

    Raises:
        ConfigError: naming the first invalid option.
    """
    if not isinstance(max_body_bytes, int) or isinstance(max_body_bytes, bool) or max_body_bytes < 1:
        raise ConfigError(f"max_body_bytes: must be an integer >= 1 (got {max_body_bytes!r})", field="max_body_bytes")
    paths = [public_paths] if isinstance(public_paths, str) else list(public_paths)
    if not all(isinstance(p, str) and p.startswith("/") for p in paths):
        raise ConfigError(f"public_paths: must be paths starting with / (got {paths!r})", field="public_paths")
    if not isinstance(load_timeout_s, int | float) or isinstance(load_timeout_s, bool) or not load_timeout_s > 0:
        raise ConfigError(f"load_timeout_s: must be a number > 0 (got {load_timeout_s!r})", field="load_timeout_s")
    return AppOptions(ApiKeys.build(api_keys, api_keys_env), max_body_bytes, frozenset(paths), float(load_timeout_s))
