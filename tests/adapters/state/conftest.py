"""Stores for the state tests: SQLite files under tmp_path, and a real redis-server each session starts itself."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actorserve.adapters.state import RedisStateStore, SqliteStateStore
from actorserve.domain.ports import StateStore
from tests.fakes import FakeClock

REDIS_SERVER = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not on PATH (apt-get install redis-server; .ci/run does as root)"
)
_namespaces = itertools.count()


class RedisServer:
    """One redis-server of the tests' own, on a unix socket; no persistence unless `durable`."""

    def __init__(self, folder: Path, *, durable: bool = False) -> None:
        self.folder = folder
        self.durable = durable  # an append-only file synced at every write: it survives SIGKILL
        self.socket = folder / "redis.sock"
        self.log = folder / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 10.0) -> None:
        assert REDIS_SERVER is not None
        command = [
            REDIS_SERVER,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "yes" if self.durable else "no",
            "--appendfsync", "always",
            "--daemonize", "no",
            "--dir", str(self.folder),
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        import redis

        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server not answering after {timeout_s}s: {self.log.read_text()[-2000:]}")
            finally:
                client.close()
            try:  # wait on the process itself between polls: returns at once if it dies
                self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-use, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server; .ci/run does as root)")
    pytest.importorskip("redis")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_namespace() -> str:
    """A namespace no other test used, so tests sharing the session's Redis never meet."""
    return f"t{next(_namespaces)}-{time.time_ns()}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


StoreFactory = Callable[..., StateStore]


@pytest.fixture(params=["sqlite", "redis"])
def open_backend(
    request: pytest.FixtureRequest, tmp_path: Path, fresh_namespace: str, clock: FakeClock
) -> Iterator[StoreFactory]:
    """Opens stores on one backing store (a file, or the session's Redis); all closed after the test.

    Each call opens another store object on the same data, as another process would.
    """
    opened: list[StateStore] = []
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")

        def make(namespace: str = fresh_namespace) -> StateStore:
            store = RedisStateStore.from_url(server.url, namespace=namespace)
            opened.append(store)
            return store

    else:
        url = f"sqlite:///{tmp_path / 'state.db'}"

        def make(namespace: str = fresh_namespace) -> StateStore:
            store = SqliteStateStore.from_url(url, namespace=namespace, clock=clock)
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_backend: StoreFactory) -> StateStore:
    return open_backend()
