"""SqliteStateStore on real files: sharing between store objects and processes, and every way a file can be wrong."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from actorserve.adapters.state import SqliteStateStore
from actorserve.adapters.state.urls import parse_sqlite_url
from actorserve.domain.errors import StateError
from actorserve.domain.state import SCHEMA_VERSION, StoredDocument
from tests.fakes import FakeClock

ROOT = Path(__file__).resolve().parents[3]


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"  # an absolute path gives sqlite:////...


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///state.db", "state.db"),
        ("sqlite:///data/state.db", "data/state.db"),
        ("sqlite:////var/lib/app/state.db", "/var/lib/app/state.db"),
        (":memory:", ":memory:"),
        ("sqlite://", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_follow_sqlalchemys_convention(url: str, path: str) -> None:
    assert parse_sqlite_url(url) == path


@pytest.mark.parametrize(
    "url", ["sqlite:", "sqlite:/x.db", "sqlite://host/x.db", "sqlite:///", "sqlite:///x.db?mode=ro"]
)
def test_a_malformed_sqlite_url_is_a_one_line_state_error(url: str) -> None:
    with pytest.raises(StateError) as caught:
        SqliteStateStore.from_url(url)
    assert "\n" not in str(caught.value)
    assert url in str(caught.value)
    assert caught.value.url == url


def test_a_relative_url_is_a_file_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStateStore.from_url("sqlite:///rel.db")
    store.put_document("version", "v", {})
    store.close()
    assert (tmp_path / "rel.db").is_file()


def test_the_file_is_in_wal_mode_and_carries_the_schema_number(tmp_path: Path) -> None:
    SqliteStateStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    raw.close()


def test_tombstones_and_counters_survive_a_reopen(tmp_path: Path) -> None:
    first = SqliteStateStore(tmp_path / "s.db")
    first.put_document("version", "kept", {"desired": "registered"})
    first.put_document("version", "unloaded", {"desired": "registered"})
    first.delete_document("version", "unloaded")
    first.increment({("abstat", "t"): {"n": 7}})
    first.close()
    again = SqliteStateStore(tmp_path / "s.db")
    assert again.list_documents("version") == [
        StoredDocument("kept", {"desired": "registered"}),
        StoredDocument("unloaded", None),
    ]
    assert again.read_counters("abstat", "t") == {"n": 7}
    again.close()


def test_another_process_sees_and_adds_to_the_same_file(tmp_path: Path) -> None:
    url = url_of(tmp_path / "shared.db")
    store = SqliteStateStore.from_url(url)
    store.put_document("experiment", "ab-1", {"split": 50})
    child = (
        "import sys\n"
        "from actorserve.adapters.state import SqliteStateStore\n"
        "s = SqliteStateStore.from_url(sys.argv[1])\n"
        "assert s.get_document('experiment', 'ab-1') == {'split': 50}\n"
        "for _ in range(50):\n"
        "    s.increment({('abstat', 'ab-1:a'): {'n': 1, 'sum': 0.5}})\n"
        "s.put_document('experiment', 'from-child', {'pid': 1})\n"
        "s.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child, url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    for _ in range(50):  # at the same time as the child: the busy timeout serialises the writers
        store.increment({("abstat", "ab-1:a"): {"n": 1, "sum": 0.5}})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert store.read_counters("abstat", "ab-1:a") == {"n": 100, "sum": 50}
    assert store.get_document("experiment", "from-child") == {"pid": 1}
    store.close()


def test_threads_may_share_one_store(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.db")

    def work() -> None:
        for _ in range(50):
            store.increment({("s", "k"): {"n": 1}})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert store.read_counters("s", "k") == {"n": 200}
    store.close()


def test_a_newer_schema_is_refused_and_the_file_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStateStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StateError, match=rf"schema {SCHEMA_VERSION + 1} is newer than this actorserve's"):
        SqliteStateStore.from_url(url_of(path))
    assert path.read_bytes() == before


def test_a_corrupt_file_is_a_state_error_and_stays_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    garbage = b"this is not an sqlite database " * 200
    path.write_bytes(garbage)
    with pytest.raises(StateError, match="not a database") as caught:
        SqliteStateStore.from_url(url_of(path))
    assert str(path) in str(caught.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]


def test_a_database_of_another_application_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE users (id INTEGER)")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StateError, match="not an actorserve state store"):
        SqliteStateStore(path)
    assert path.read_bytes() == before


def test_a_path_where_no_file_can_be_created_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    for path in (tmp_path / "a-file" / "s.db", tmp_path / "missing-dir" / "s.db", Path("/proc/actorserve-state.db")):
        with pytest.raises(StateError, match="cannot open") as caught:
            SqliteStateStore.from_url(url_of(path))
        assert str(path) in str(caught.value)


def test_a_read_only_directory_is_a_state_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    SqliteStateStore(folder / "existing.db").close()
    folder.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root writes through permissions; a child without CAP_DAC_OVERRIDE does not
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is missing to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    child = (
        "import sys\n"
        "from actorserve.adapters.state import SqliteStateStore\n"
        "from actorserve.domain.errors import StateError\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        SqliteStateStore(path).put_document('version', 'v', {})\n"
        "    except StateError as exc:\n"
        "        print('refused', exc)\n"
    )
    paths = [str(folder / "new.db"), str(folder / "existing.db")]
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", child, *paths],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    for line, path in zip(lines, paths, strict=True):
        assert line.startswith(f"refused state store {path}: "), line


def test_a_locked_database_is_a_state_error_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStateStore(path, busy_timeout_ms=200)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StateError, match="locked"):
            store.increment({("s", "k"): {"n": 1}})
        with pytest.raises(StateError, match="locked"):
            SqliteStateStore(path, busy_timeout_ms=200)
        assert time.monotonic() - started < 5
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    store.increment({("s", "k"): {"n": 1}})
    assert store.read_counters("s", "k") == {"n": 1}
    store.close()


def test_a_lease_expires_on_the_injected_clock(tmp_path: Path, clock: FakeClock) -> None:
    a = SqliteStateStore(tmp_path / "s.db", clock=clock)
    b = SqliteStateStore(tmp_path / "s.db", clock=clock)
    assert a.acquire_lease("canary", "a", 1000)
    clock.advance(0.999)
    assert not b.acquire_lease("canary", "b", 1000)
    assert a.acquire_lease("canary", "a", 1000)  # renewed: a second from now
    clock.advance(0.5)
    assert not b.acquire_lease("canary", "b", 1000)
    clock.advance(0.5)
    assert b.acquire_lease("canary", "b", 1000)
    assert not a.release_lease("canary", "a")
    assert not a.acquire_lease("canary", "a", 1000)
    clock.advance(1.0)
    assert not b.release_lease("canary", "b")  # an expired lease is no longer b's to release
    assert a.acquire_lease("canary", "a", 1000)
    a.close()
    b.close()


def test_an_expiring_document_goes_on_the_injected_clock_and_makes_room(tmp_path: Path, clock: FakeClock) -> None:
    store = SqliteStateStore(tmp_path / "s.db", clock=clock)
    store.put_document("pending", "r1", {"n": 1}, ttl_ms=500)
    clock.advance(0.4)
    assert store.get_document("pending", "r1") == {"n": 1}
    clock.advance(0.2)
    assert store.get_document("pending", "r1") is None
    assert store.pop_document("pending", "r1") is None
    assert store.list_documents("pending") == []
    store.put_document("pending", "r2", {"n": 2}, ttl_ms=500)
    store.close()
    raw = sqlite3.connect(tmp_path / "s.db")
    assert raw.execute("SELECT key FROM documents WHERE kind = 'pending'").fetchall() == [("r2",)]
    raw.close()


def test_an_in_memory_store_works_without_a_file(tmp_path: Path) -> None:
    store = SqliteStateStore.from_url(":memory:")
    store.put_document("version", "v", {"a": 1})
    assert store.list_documents("version") == [StoredDocument("v", {"a": 1})]
    store.close()
