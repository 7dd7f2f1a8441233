"""`open_store`: a URL to an open `StateStore`, by scheme through the `actorserve.state` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import cast

from actorserve.adapters.state.common import state_error
from actorserve.domain.ports import StateStore, StateStoreFactory
from actorserve.domain.state import DEFAULT_NAMESPACE

__all__ = ["ENTRY_POINT_GROUP", "known_schemes", "open_store"]

ENTRY_POINT_GROUP = "actorserve.state"


def known_schemes() -> list[str]:
    """The URL schemes installed stores answer to, sorted."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def scheme_of(url: str) -> str:
    """The scheme of `url` (`:memory:` counts as sqlite); empty if it has none."""
    if url == ":memory:":
        return "sqlite"
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and scheme.isidentifier() else ""


def open_store(url: str, *, namespace: str = DEFAULT_NAMESPACE) -> StateStore:
    """Open the state store `url` names, under `namespace`.

    Args:
        url: e.g. `sqlite:///state.db`, `sqlite:////var/lib/app/state.db`, `:memory:`,
            `redis://localhost:6379/0`, `unix:///run/redis.sock`.
        namespace: Prefix of every key; runtimes with different namespaces never share data.

    Raises:
        StateError: an unknown scheme (naming the known ones), a malformed URL, or a
            store that cannot be opened.
    """
    if not isinstance(url, str) or not url:
        raise state_error(str(url), f"not a store URL; known schemes: {', '.join(known_schemes())}")
    scheme = scheme_of(url)
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == scheme]
    if not found:
        what = f"unknown scheme {scheme!r}" if scheme else "no scheme"
        raise state_error(url, f"{what}; known schemes: {', '.join(known_schemes())}")
    factory = cast("StateStoreFactory", found[0].load())
    return factory.from_url(url, namespace=namespace)
