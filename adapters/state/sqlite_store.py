"""`SqliteStateStore`: the embedded default, one SQLite file shared by the processes of one host.

WAL journal mode lets readers run beside the one writer; `synchronous=FULL`
makes every committed write durable when the call returns; a bounded busy
timeout turns a database locked by another process into a `StateError`
instead of a hang. The schema number lives in `PRAGMA user_version`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from actorserve.adapters.state.common import WallClock, decode_document, encode_document, epoch_ms, state_error
from actorserve.adapters.state.urls import parse_sqlite_url
from actorserve.domain.entities import JSONValue
from actorserve.domain.ports import Clock
from actorserve.domain.state import (
    DEFAULT_NAMESPACE,
    SCHEMA_VERSION,
    CounterBatch,
    Counters,
    Document,
    DocumentEntry,
    StoredDocument,
    as_total,
    check_increments,
    check_key,
    check_name,
    check_ttl_ms,
)

__all__ = ["SqliteStateStore"]

_TABLES = ("applied", "counters", "documents", "leases")
_APPLIED = """CREATE TABLE IF NOT EXISTS applied (
        namespace TEXT NOT NULL, id TEXT NOT NULL, expires_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, id)
    ) WITHOUT ROWID"""
"""Batch ids of increments already applied (a retry of one adds nothing); created on open, also in older files."""
_APPLIED_MS = 24 * 3600 * 1000
_INDEXES = (
    _APPLIED,
    "CREATE INDEX IF NOT EXISTS applied_expiry ON applied (namespace, expires_ms)",
    "CREATE INDEX IF NOT EXISTS documents_expiry ON documents (namespace, kind, expires_ms) "
    "WHERE expires_ms IS NOT NULL",
)
"""Created on every open (older files get them too): pruning expired entries is an index range, not a scan."""
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS documents (
        namespace TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        body TEXT,          -- JSON object, NULL for a tombstone
        expires_ms INTEGER, -- NULL: never
        PRIMARY KEY (namespace, kind, key)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS counters (
        namespace TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, field TEXT NOT NULL,
        value NOT NULL,     -- no affinity: whole sums stay INTEGER, others REAL
        PRIMARY KEY (namespace, kind, key, field)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS leases (
        namespace TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, name)
    ) WITHOUT ROWID""",
)


def _rollback(db: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (a full disk, an I/O error); the first error is the one to report.
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


class SqliteStateStore:
    """A `StateStore` in one SQLite file (or in memory, for tests and single-process use).

    One connection per store, guarded by a lock: the state actor's thread
    uses it, and any other thread (health checks) may too. Several store
    objects, in one process or several, may open the same file.

    Args:
        path: The database file (created if missing), or `":memory:"`.
        namespace: Prefix of every key (a `domain.state.check_name` name).
        clock: Wall clock for lease and TTL expiry (`now()` is read); tests pass a fake.
        busy_timeout_ms: How long a call waits for a lock another connection holds before
            it raises `StateError`.
        url: The URL to name in errors (defaults to the path).

    Raises:
        StateError: the file cannot be opened or created, is not an SQLite database
            (left untouched), is not an actorserve store, or holds a newer schema.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock | None = None,
        busy_timeout_ms: int = 5000,
        url: str | None = None,
    ) -> None:
        self._namespace = check_name(namespace, field="namespace")
        self._url = url or str(path)
        self._clock: Clock = clock or WallClock()
        self._lock = threading.Lock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise state_error(self._url, f"cannot open: {exc}") from exc
        try:
            self._open(self._db)
        except BaseException:
            self._db.close()
            self._db = None
            raise

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock | None = None,
        busy_timeout_ms: int = 5000,
    ) -> SqliteStateStore:
        """Open the store a `sqlite:` URL names (see `parse_sqlite_url`)."""
        return cls(parse_sqlite_url(url), namespace=namespace, clock=clock, busy_timeout_ms=busy_timeout_ms, url=url)

    @property
    def url(self) -> str:
        """The URL (or path) this store was opened from."""
        return self._url

    @property
    def namespace(self) -> str:
        """The prefix of every key."""
        return self._namespace

    def _open(self, db: sqlite3.Connection) -> None:
        # Read before writing anything: a corrupt file or a newer schema is refused untouched.
        with self._errors("cannot open"):
            self._check_schema(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            try:
                if self._check_schema(db) < SCHEMA_VERSION:
                    for statement in _SCHEMA:  # not executescript: it would commit first
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                for statement in _INDEXES:
                    db.execute(statement)
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise

    def _check_schema(self, db: sqlite3.Connection) -> int:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            msg = f"schema {version} is newer than this actorserve's {SCHEMA_VERSION}; upgrade actorserve to open it"
            raise state_error(self._url, msg)
        if version == 0:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables - set(_TABLES):
                raise state_error(self._url, "not an actorserve state store (it holds other tables)")
        return int(version)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise state_error(self._url, f"{action}: {exc}") from exc

    @contextmanager
    def _conn(self, action: str, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, held under the lock, in a write transaction if `write`."""
        with self._lock, self._errors(action):
            db = self._db
            if db is None:
                raise state_error(self._url, f"{action}: the store is closed")
            if not write:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                _rollback(db)
                raise
            db.execute("COMMIT")

    def put_document(self, kind: str, key: str, doc: Mapping[str, JSONValue], *, ttl_ms: int | None = None) -> None:
        """Store `doc` under `(kind, key)`, durable on return; see `StateStore.put_document`."""
        body = encode_document(kind, key, doc)
        now = epoch_ms(self._clock)
        expires = None if ttl_ms is None else now + check_ttl_ms(ttl_ms)
        ns = self._namespace
        with self._conn("put_document", write=True) as db:
            if expires is not None:  # expired entries of this kind go when new ones come: the map stays bounded
                db.execute("DELETE FROM documents WHERE namespace=? AND kind=? AND expires_ms <= ?", (ns, kind, now))
            db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?)", (ns, kind, key, body, expires))

    def put_documents(self, entries: Sequence[DocumentEntry]) -> None:
        """Store every entry in one transaction; see `StateStore.put_documents`."""
        now = epoch_ms(self._clock)
        ns = self._namespace
        rows = []
        expiring: set[str] = set()
        for kind, key, doc, ttl_ms in entries:
            body = encode_document(kind, key, doc)
            expires = None if ttl_ms is None else now + check_ttl_ms(ttl_ms)
            if expires is not None:
                expiring.add(kind)
            rows.append((ns, kind, key, body, expires))
        if not rows:
            return
        with self._conn("put_documents", write=True) as db:
            for kind in expiring:  # as in put_document: expired entries go when new ones come
                db.execute("DELETE FROM documents WHERE namespace=? AND kind=? AND expires_ms <= ?", (ns, kind, now))
            db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?)", rows)

    def get_document(self, kind: str, key: str) -> Document | None:
        """The live document under `(kind, key)`, or None."""
        check_name(kind, field="kind")
        check_key(key)
        sql = (
            "SELECT body FROM documents WHERE namespace=? AND kind=? AND key=? AND body IS NOT NULL "
            "AND (expires_ms IS NULL OR expires_ms > ?)"
        )
        with self._conn("get_document") as db:
            row = db.execute(sql, (self._namespace, kind, key, epoch_ms(self._clock))).fetchone()
        return None if row is None else decode_document(self._url, kind, key, row[0])

    def list_documents(self, kind: str) -> list[StoredDocument]:
        """Live documents and tombstones of `kind`, sorted by key."""
        check_name(kind, field="kind")
        sql = (
            "SELECT key, body FROM documents WHERE namespace=? AND kind=? "
            "AND (expires_ms IS NULL OR expires_ms > ?) ORDER BY key"
        )
        with self._conn("list_documents") as db:
            rows = db.execute(sql, (self._namespace, kind, epoch_ms(self._clock))).fetchall()
        return [
            StoredDocument(key, None if body is None else decode_document(self._url, kind, key, body))
            for key, body in rows
        ]

    def delete_document(self, kind: str, key: str) -> None:
        """Leave a tombstone under `(kind, key)`, durable on return."""
        check_name(kind, field="kind")
        check_key(key)
        with self._conn("delete_document", write=True) as db:
            db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, NULL, NULL)", (self._namespace, kind, key))

    def pop_document(self, kind: str, key: str) -> Document | None:
        """Remove and return the live document under `(kind, key)`; one caller gets it."""
        check_name(kind, field="kind")
        check_key(key)
        sql = (
            "DELETE FROM documents WHERE namespace=? AND kind=? AND key=? AND body IS NOT NULL "
            "AND (expires_ms IS NULL OR expires_ms > ?) RETURNING body"
        )
        with self._conn("pop_document", write=True) as db:
            rows = db.execute(sql, (self._namespace, kind, key, epoch_ms(self._clock))).fetchall()
        return decode_document(self._url, kind, key, rows[0][0]) if rows else None

    def increment(self, batch: CounterBatch, *, batch_id: str | None = None) -> None:
        """Add every delta of `batch` in one transaction (once per `batch_id`); see `StateStore.increment`."""
        check_increments(batch)
        if batch_id is not None:
            check_key(batch_id, field="batch_id")
        ns = self._namespace
        rows = [(ns, kind, key, name, delta) for (kind, key), fields in batch.items() for name, delta in fields.items()]
        if not rows:
            return
        sql = (
            "INSERT INTO counters VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (namespace, kind, key, field) DO UPDATE SET value = value + excluded.value"
        )
        with self._conn("increment", write=True) as db:
            if batch_id is not None:
                now = epoch_ms(self._clock)
                db.execute("DELETE FROM applied WHERE namespace=? AND expires_ms <= ?", (ns, now))
                seen = db.execute("INSERT OR IGNORE INTO applied VALUES (?, ?, ?)", (ns, batch_id, now + _APPLIED_MS))
                if seen.rowcount == 0:
                    return  # applied before: its answer was lost, and this is the retry
            db.executemany(sql, rows)

    def read_counters(self, kind: str, key: str) -> Counters:
        """Totals of `(kind, key)` across every writer."""
        check_name(kind, field="kind")
        check_key(key)
        sql = "SELECT field, value FROM counters WHERE namespace=? AND kind=? AND key=? ORDER BY field"
        with self._conn("read_counters") as db:
            rows = db.execute(sql, (self._namespace, kind, key)).fetchall()
        return {name: as_total(value) for name, value in rows}

    def list_counters(self, kind: str) -> dict[str, Counters]:
        """Totals of every key of `kind`, by key."""
        check_name(kind, field="kind")
        sql = "SELECT key, field, value FROM counters WHERE namespace=? AND kind=? ORDER BY key, field"
        with self._conn("list_counters") as db:
            rows = db.execute(sql, (self._namespace, kind)).fetchall()
        totals: dict[str, Counters] = {}
        for key, name, value in rows:
            totals.setdefault(key, {})[name] = as_total(value)
        return totals

    def acquire_lease(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Take or renew lease `name` for `owner`; False while another owner's lease is unexpired."""
        check_name(name, field="name")
        check_key(owner, field="owner")
        now = epoch_ms(self._clock)
        sql = (
            "INSERT INTO leases VALUES (?, ?, ?, ?) ON CONFLICT (namespace, name) DO UPDATE "
            "SET owner = excluded.owner, expires_ms = excluded.expires_ms "
            "WHERE leases.owner = excluded.owner OR leases.expires_ms <= ?"
        )
        with self._conn("acquire_lease", write=True) as db:
            changed = db.execute(sql, (self._namespace, name, owner, now + check_ttl_ms(ttl_ms), now)).rowcount
        return changed > 0

    def release_lease(self, name: str, owner: str) -> bool:
        """Free lease `name` if `owner` holds it unexpired."""
        check_name(name, field="name")
        check_key(owner, field="owner")
        sql = "DELETE FROM leases WHERE namespace=? AND name=? AND owner=? AND expires_ms > ?"
        with self._conn("release_lease", write=True) as db:
            changed = db.execute(sql, (self._namespace, name, owner, epoch_ms(self._clock))).rowcount
        return changed > 0

    def ping(self) -> None:
        """Return if the database answers a read; raise `StateError` otherwise."""
        with self._conn("ping") as db:
            db.execute("SELECT count(*) FROM leases").fetchone()

    def close(self) -> None:
        """Close the connection; later calls raise `StateError`."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()

    def __repr__(self) -> str:
        return f"SqliteStateStore({self._url!r}, namespace={self._namespace!r})"
