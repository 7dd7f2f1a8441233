"""open_store: the URL's scheme picks the store, through the actorserve.state entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from actorserve.adapters.state import RedisStateStore, SqliteStateStore, known_schemes, open_store
from actorserve.domain.errors import StateError
from tests.adapters.state.conftest import RedisServer, needs_redis


def test_the_installed_schemes_are_sqlite_and_redis() -> None:
    assert known_schemes() == ["redis", "rediss", "sqlite", "unix"]


def test_a_sqlite_url_opens_a_sqlite_store_under_the_namespace(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db", namespace="app-1")
    assert isinstance(store, SqliteStateStore)
    assert store.namespace == "app-1"
    store.close()
    memory = open_store(":memory:")
    assert isinstance(memory, SqliteStateStore)
    assert memory.namespace == "actorserve"
    memory.close()


@needs_redis
def test_a_unix_url_opens_a_redis_store(redis_server: RedisServer) -> None:
    store = open_store(redis_server.url, namespace="open-store-test")
    assert isinstance(store, RedisStateStore)
    store.ping()
    store.close()


@pytest.mark.parametrize("url", ["postgres://db/x", "state.db", "", "/var/lib/state.db", "sqlite:", "mem://"])
def test_an_unknown_or_missing_scheme_is_one_line_naming_the_url_and_the_known_schemes(url: str) -> None:
    with pytest.raises(StateError) as caught:
        open_store(url)
    message = str(caught.value)
    assert "\n" not in message
    assert f"state store {url}:" in message
    assert "known schemes: redis, rediss, sqlite, unix" in message


def test_a_missing_redis_package_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from actorserve.domain.errors import ConfigError

    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigError, match=r"state\.redis: redis is not installed; pip install 'actorserve\[redis\]'"):
        RedisStateStore.from_url("redis://localhost:6379/0")
