"""`RedisStateStore`: state shared by processes on several hosts, in one Redis (not Redis Cluster).

Keys, all under `<namespace>:`::

    schema                  the schema number (a string)
    doc:<kind>:<key>        a document as JSON, or `null` for a tombstone; a TTL for expiring ones
    docs:<kind>             set of the keys of <kind> that do not expire (and tombstones)
    expiring:<kind>         sorted set of the keys of <kind> with a TTL, scored by expiry (server ms);
                            pruned at every write of one, so pending ids never pile up
    ctr:<kind>:<key>        hash of counter fields (HINCRBYFLOAT)
    ctrs:<kind>             set of the counter keys of <kind>
    lease:<name>            the owner id, with the lease's expiry as the key's PX
    applied:<batch id>      an increment batch already applied (a retry adds nothing), kept a day

Multi-key writes are Lua scripts or MULTI pipelines, so each call is atomic
and one round trip. Socket timeouts bound every call; a lost connection is
retried once (a restarted server is reconnected transparently) and otherwise
raises `StateError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from actorserve.adapters.extras import missing_extra
from actorserve.adapters.state.common import decode_document, encode_document, mask_url, state_error
from actorserve.adapters.state.urls import check_redis_url
from actorserve.domain.entities import JSONValue
from actorserve.domain.state import (
    DEFAULT_NAMESPACE,
    SCHEMA_VERSION,
    CounterBatch,
    Counters,
    Document,
    DocumentEntry,
    Number,
    StoredDocument,
    as_total,
    check_increments,
    check_key,
    check_name,
    check_ttl_ms,
)

__all__ = ["RedisStateStore"]

_TOMBSTONE = "null"

# KEYS[1] the index set; ARGV[1] the document key prefix. Returns key, body, key, body, ...
_LIST = """
local out = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', ARGV[1] .. k)
  if v then out[#out + 1] = k; out[#out + 1] = v else redis.call('SREM', KEYS[1], k) end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
for _, k in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local v = redis.call('GET', ARGV[1] .. k)
  if v then out[#out + 1] = k; out[#out + 1] = v end
end
return out
"""
# ARGV: prefix, then per document: kind, key, body, ttl_ms (0: none). A TTL'd key is indexed by its expiry.
_PUT = """
local prefix = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pruned = {}
for i = 2, #ARGV, 4 do
  local kind, key, body, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local doc = prefix .. 'doc:' .. kind .. ':' .. key
  if ttl > 0 then
    redis.call('SET', doc, body, 'PX', ttl)
    redis.call('SREM', prefix .. 'docs:' .. kind, key)
    redis.call('ZADD', prefix .. 'expiring:' .. kind, now + ttl, key)
    if not pruned[kind] then
      redis.call('ZREMRANGEBYSCORE', prefix .. 'expiring:' .. kind, '-inf', now)
      pruned[kind] = true
    end
  else
    redis.call('SET', doc, body)
    redis.call('ZREM', prefix .. 'expiring:' .. kind, key)
    redis.call('SADD', prefix .. 'docs:' .. kind, key)
  end
end
return 1
"""
# KEYS[1] the document, KEYS[2] the index set, KEYS[3] the expiring index; ARGV[1] its key. A tombstone is not popped.
_POP = """
local v = redis.call('GET', KEYS[1])
if (not v) or v == 'null' then return false end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return v
"""
# ARGV: prefix, batch id ('' for none), its memory in ms, then per target: kind, key, n, field1, delta1, ...
_INCREMENT = """
local prefix, i = ARGV[1], 4
if ARGV[2] ~= '' and not redis.call('SET', prefix .. 'applied:' .. ARGV[2], '1', 'NX', 'PX', ARGV[3]) then
  return 0
end
while i <= #ARGV do
  local kind, key, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local hash = prefix .. 'ctr:' .. kind .. ':' .. key
  redis.call('SADD', prefix .. 'ctrs:' .. kind, key)
  for j = 1, n do redis.call('HINCRBYFLOAT', hash, ARGV[i + 1 + 2 * j], ARGV[i + 2 + 2 * j]) end
  i = i + 3 + 2 * n
end
return 1
"""
_APPLIED_MS = 24 * 3600 * 1000

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStateStore:
    """A `StateStore` in Redis >= 6.2, through redis-py (`pip install 'actorserve[redis]'`).

    The redis-py client is thread-safe (a connection pool), so any thread may
    call. Opening pings the server and checks the schema, so an unreachable
    server fails here, within `connect_timeout_s`.

    Args:
        url: `redis://[:password@]host:port/db`, `rediss://...` or `unix:///path/redis.sock`,
            as redis-py parses them.
        namespace: Prefix of every key (a `domain.state.check_name` name).
        socket_timeout_s: Bound on each call's wait for the server.
        connect_timeout_s: Bound on each connection attempt.

    Raises:
        StateError: a malformed URL, an unreachable server, or a newer schema.
        ConfigError: redis-py is not installed.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        socket_timeout_s: float = 2.0,
        connect_timeout_s: float = 2.0,
    ) -> None:
        self._namespace = check_name(namespace, field="namespace")
        self._url = mask_url(url)
        self._prefix = f"{namespace}:"
        check_redis_url(url)
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise missing_extra("redis", "redis", "redis", kind="state") from None
        self._redis_error: type[Exception] = redis.RedisError
        try:
            self._client: Any = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=connect_timeout_s,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as exc:
            raise state_error(url, f"malformed URL: {exc}") from exc
        self._closed = False
        self._scripts = {
            name: self._client.register_script(source)
            for name, source in (
                ("list", _LIST),
                ("put", _PUT),
                ("pop", _POP),
                ("increment", _INCREMENT),
                ("acquire", _ACQUIRE),
                ("release", _RELEASE),
            )
        }
        try:
            self._open()
        except BaseException:
            self._client.close()
            raise

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        socket_timeout_s: float = 2.0,
        connect_timeout_s: float = 2.0,
    ) -> RedisStateStore:
        """Open the store a `redis:`, `rediss:` or `unix:` URL names."""
        return cls(url, namespace=namespace, socket_timeout_s=socket_timeout_s, connect_timeout_s=connect_timeout_s)

    @property
    def url(self) -> str:
        """The URL this store was opened from, its password masked."""
        return self._url

    @property
    def namespace(self) -> str:
        """The prefix of every key."""
        return self._namespace

    def _open(self) -> None:
        key = self._prefix + "schema"
        with self._errors("cannot open"):
            self._client.set(key, str(SCHEMA_VERSION), nx=True)
            stored = self._client.get(key)
        if stored is None or not str(stored).isdigit():
            raise state_error(self._url, f"{key} holds {stored!r}, not a schema number: not an actorserve store")
        if int(stored) > SCHEMA_VERSION:
            msg = f"schema {stored} is newer than this actorserve's {SCHEMA_VERSION}; upgrade actorserve to open it"
            raise state_error(self._url, msg)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        if self._closed:
            raise state_error(self._url, f"{action}: the store is closed")
        try:
            yield
        except self._redis_error as exc:
            raise state_error(self._url, f"{action}: {type(exc).__name__}: {exc}") from exc

    def _doc_key(self, kind: str, key: str) -> str:
        return f"{self._prefix}doc:{kind}:{key}"

    def put_document(self, kind: str, key: str, doc: Mapping[str, JSONValue], *, ttl_ms: int | None = None) -> None:
        """Store `doc` under `(kind, key)`; see `StateStore.put_document`."""
        self._put([(kind, key, doc, ttl_ms)], "put_document")

    def put_documents(self, entries: Sequence[DocumentEntry]) -> None:
        """Store every entry in one atomic script call; see `StateStore.put_documents`."""
        self._put(entries, "put_documents")

    def _put(self, entries: Sequence[DocumentEntry], action: str) -> None:
        args: list[str] = [self._prefix]
        for kind, key, doc, ttl_ms in entries:
            body = encode_document(kind, key, doc)
            args += [kind, key, body, str(0 if ttl_ms is None else check_ttl_ms(ttl_ms))]
        if len(args) == 1:
            return
        with self._errors(action):
            self._scripts["put"](args=args)

    def get_document(self, kind: str, key: str) -> Document | None:
        """The live document under `(kind, key)`, or None."""
        check_name(kind, field="kind")
        check_key(key)
        with self._errors("get_document"):
            body = self._client.get(self._doc_key(kind, key))
        if body is None or body == _TOMBSTONE:
            return None
        return decode_document(self._url, kind, key, body)

    def list_documents(self, kind: str) -> list[StoredDocument]:
        """Live documents and tombstones of `kind`, sorted by key."""
        check_name(kind, field="kind")
        with self._errors("list_documents"):
            flat = self._scripts["list"](
                keys=[f"{self._prefix}docs:{kind}", f"{self._prefix}expiring:{kind}"],
                args=[f"{self._prefix}doc:{kind}:"],
            )
        pairs = sorted(zip(flat[::2], flat[1::2], strict=True))
        return [
            StoredDocument(key, None if body == _TOMBSTONE else decode_document(self._url, kind, key, body))
            for key, body in pairs
        ]

    def delete_document(self, kind: str, key: str) -> None:
        """Leave a tombstone (with no expiry) under `(kind, key)`."""
        check_name(kind, field="kind")
        check_key(key)
        with self._errors("delete_document"):
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self._doc_key(kind, key), _TOMBSTONE)
            pipe.zrem(f"{self._prefix}expiring:{kind}", key)
            pipe.sadd(f"{self._prefix}docs:{kind}", key)
            pipe.execute()

    def pop_document(self, kind: str, key: str) -> Document | None:
        """Remove and return the live document under `(kind, key)`; one caller gets it."""
        check_name(kind, field="kind")
        check_key(key)
        with self._errors("pop_document"):
            keys = [self._doc_key(kind, key), f"{self._prefix}docs:{kind}", f"{self._prefix}expiring:{kind}"]
            body = self._scripts["pop"](keys=keys, args=[key])
        return None if body is None else decode_document(self._url, kind, key, body)

    def increment(self, batch: CounterBatch, *, batch_id: str | None = None) -> None:
        """Add every delta of `batch` in one atomic script call (once per `batch_id`)."""
        check_increments(batch)
        if batch_id is not None:
            check_key(batch_id, field="batch_id")
        args: list[str] = [self._prefix, batch_id or "", str(_APPLIED_MS)]
        for (kind, key), fields in batch.items():
            if fields:
                args += [kind, key, str(len(fields))]
                for name, delta in fields.items():
                    args += [name, repr(float(delta)) if isinstance(delta, float) else str(delta)]
        if len(args) > 3:
            with self._errors("increment"):
                self._scripts["increment"](keys=[], args=args)

    def read_counters(self, kind: str, key: str) -> Counters:
        """Totals of `(kind, key)` across every writer."""
        check_name(kind, field="kind")
        check_key(key)
        with self._errors("read_counters"):
            raw = self._client.hgetall(f"{self._prefix}ctr:{kind}:{key}")
        return _totals(raw)

    def list_counters(self, kind: str) -> dict[str, Counters]:
        """Totals of every key of `kind`, by key."""
        check_name(kind, field="kind")
        with self._errors("list_counters"):
            keys = sorted(self._client.smembers(f"{self._prefix}ctrs:{kind}"))
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(f"{self._prefix}ctr:{kind}:{key}")
            hashes = pipe.execute() if keys else []
        return {key: _totals(raw) for key, raw in zip(keys, hashes, strict=True)}

    def acquire_lease(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Take (SET NX PX) or renew lease `name` for `owner`; False while another owner holds it."""
        check_name(name, field="name")
        check_key(owner, field="owner")
        with self._errors("acquire_lease"):
            got = self._scripts["acquire"](keys=[f"{self._prefix}lease:{name}"], args=[owner, check_ttl_ms(ttl_ms)])
        return bool(got)

    def release_lease(self, name: str, owner: str) -> bool:
        """Free lease `name` if `owner` holds it (compare and delete)."""
        check_name(name, field="name")
        check_key(owner, field="owner")
        with self._errors("release_lease"):
            freed = self._scripts["release"](keys=[f"{self._prefix}lease:{name}"], args=[owner])
        return bool(freed)

    def ping(self) -> None:
        """Return if the server answers PING; raise `StateError` otherwise."""
        with self._errors("ping"):
            self._client.ping()

    def close(self) -> None:
        """Close the client's connections; later calls raise `StateError`."""
        if not self._closed:
            self._closed = True
            self._client.close()

    def __repr__(self) -> str:
        return f"RedisStateStore({self._url!r}, namespace={self._namespace!r})"


def _totals(raw: Mapping[str, str]) -> Counters:
    def number(text: str) -> Number:
        try:
            return int(text)
        except ValueError:
            return as_total(float(text))

    return {name: number(value) for name, value in sorted(raw.items())}
