"""RedisStateStore against a real redis-server the tests start: expiry, schema, lost and restarted servers."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actorserve.adapters.state import RedisStateStore
from actorserve.domain.errors import StateError
from actorserve.domain.state import SCHEMA_VERSION
from tests.adapters.state.conftest import RedisServer, needs_redis
from tests.fakes import eventually

pytestmark = needs_redis


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server this test may kill; under /tmp, as a unix socket path must stay short."""
    with tempfile.TemporaryDirectory(prefix="as-redis-") as folder:
        server = RedisServer(Path(folder))
        server.start()
        yield server
        server.stop()


def test_an_expiring_document_and_a_lease_expire_on_the_servers_clock(
    redis_server: RedisServer, fresh_namespace: str
) -> None:
    a = RedisStateStore.from_url(redis_server.url, namespace=fresh_namespace)
    b = RedisStateStore.from_url(redis_server.url, namespace=fresh_namespace)
    a.put_document("pending", "r1", {"n": 1}, ttl_ms=50)
    assert a.acquire_lease("canary", "a", 50)
    assert not b.acquire_lease("canary", "b", 60_000)
    assert eventually(lambda: a.get_document("pending", "r1") is None), "the document did not expire"
    assert a.list_documents("pending") == []
    assert eventually(lambda: b.acquire_lease("canary", "b", 60_000)), "the lease did not expire"
    assert not a.release_lease("canary", "a")
    a.close()
    b.close()


def test_a_newer_schema_is_refused(redis_server: RedisServer, fresh_namespace: str) -> None:
    import redis

    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.set(f"{fresh_namespace}:schema", str(SCHEMA_VERSION + 1))
    client.close()
    with pytest.raises(StateError, match=rf"schema {SCHEMA_VERSION + 1} is newer than this actorserve's"):
        RedisStateStore.from_url(redis_server.url, namespace=fresh_namespace)


def test_the_schema_number_is_written_under_the_namespace(redis_server: RedisServer, fresh_namespace: str) -> None:
    import redis

    RedisStateStore.from_url(redis_server.url, namespace=fresh_namespace).close()
    client = redis.Redis(unix_socket_path=str(redis_server.socket), decode_responses=True)
    assert client.get(f"{fresh_namespace}:schema") == str(SCHEMA_VERSION)
    client.close()


def test_an_unreachable_server_at_open_is_a_quick_state_error_naming_the_url(tmp_path: Path) -> None:
    started = time.monotonic()
    for url in (f"unix://{tmp_path}/nobody.sock", "redis://127.0.0.1:1/0"):
        with pytest.raises(StateError) as caught:
            RedisStateStore.from_url(url, connect_timeout_s=0.5, socket_timeout_s=0.5)
        assert url in str(caught.value)
        assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 5


def test_a_password_never_appears_in_errors() -> None:
    with pytest.raises(StateError) as caught:
        RedisStateStore.from_url("redis://:hunter2@127.0.0.1:1/0", connect_timeout_s=0.5)
    assert "hunter2" not in str(caught.value)
    assert caught.value.url == "redis://:***@127.0.0.1:1/0"


@pytest.mark.parametrize(
    "url",
    ["redis://host:port/0", "redis://localhost/abc", "redis:///0", "unix://", "http://localhost:6379"],
)
def test_a_malformed_redis_url_is_a_one_line_state_error(url: str) -> None:
    with pytest.raises(StateError) as caught:
        RedisStateStore.from_url(url)
    assert "\n" not in str(caught.value)
    assert url in str(caught.value)


def test_a_killed_server_fails_calls_quickly_and_a_restarted_one_is_used_again(
    own_server: RedisServer, fresh_namespace: str
) -> None:
    store = RedisStateStore.from_url(own_server.url, namespace=fresh_namespace, socket_timeout_s=0.5)
    store.increment({("s", "k"): {"n": 1}})
    own_server.kill()
    started = time.monotonic()
    calls: list[Callable[[], object]] = [
        store.ping,
        lambda: store.increment({("s", "k"): {"n": 1}}),
        lambda: store.get_document("v", "k"),
    ]
    for call in calls:
        with pytest.raises(StateError) as caught:
            call()
        assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 5
    own_server.start()  # empty: no persistence, as the fixture asks
    store.ping()
    store.increment({("s", "k"): {"n": 2}})
    assert store.read_counters("s", "k") == {"n": 2}
    store.close()


def test_a_frozen_server_is_a_state_error_within_the_socket_timeout(
    own_server: RedisServer, fresh_namespace: str
) -> None:
    import signal

    store = RedisStateStore.from_url(own_server.url, namespace=fresh_namespace, socket_timeout_s=0.3)
    assert own_server.process is not None
    own_server.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StateError, match="Timeout"):
            store.put_document("version", "v", {})
        assert time.monotonic() - started < 3  # one retry: twice the socket timeout, plus slack
    finally:
        own_server.process.send_signal(signal.SIGCONT)
    store.ping()
    store.close()
