"""Store URLs, checked before any connection: SQLAlchemy's sqlite convention, and what redis-py reads."""

from __future__ import annotations

from urllib.parse import urlsplit

from actorserve.adapters.state.common import state_error

__all__ = ["MEMORY", "check_redis_url", "parse_sqlite_url"]

MEMORY = ":memory:"
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def parse_sqlite_url(url: str) -> str:
    """The database path a URL names, SQLAlchemy's way.

    `sqlite:///relative.db` (relative to the working directory),
    `sqlite:////absolute/path.db`, and `:memory:`, `sqlite://` or
    `sqlite:///:memory:` for a private in-memory database.

    Raises:
        StateError: anything else, in one line naming the URL.
    """
    if url in (MEMORY, "sqlite://"):
        return MEMORY
    prefix = "sqlite://"
    if not url.startswith(prefix):
        raise state_error(url, "not a sqlite URL; expected sqlite:///relative.db, sqlite:////absolute.db or :memory:")
    rest = url[len(prefix) :]
    if not rest.startswith("/"):
        raise state_error(url, "a sqlite URL has no host; expected sqlite:///relative.db or sqlite:////absolute.db")
    path = rest[1:]
    if not path or "?" in path or "#" in path:
        raise state_error(url, "expected a file path and no query (sqlite:///relative.db or sqlite:////absolute.db)")
    return path


def check_redis_url(url: str) -> None:
    """Refuse, in one line, what redis-py would misread: a bad scheme, port, database or socket path.

    Raises:
        StateError: naming the URL and what is wrong with it.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise state_error(url, f"malformed URL: {exc}") from exc
    if parts.scheme not in _REDIS_SCHEMES:
        raise state_error(url, "expected redis://host:port/db, rediss://... or unix:///path/redis.sock")
    if parts.scheme == "unix":
        if not parts.path:
            raise state_error(url, "a unix URL needs the socket's path: unix:///path/redis.sock")
        return
    if not parts.hostname:
        raise state_error(url, "a redis URL needs a host: redis://host:port/db")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise state_error(url, f"the database must be a number, not {db!r}: redis://host:port/0")
