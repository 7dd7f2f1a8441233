"""What both stores share: masked URLs, the JSON codec of documents, the wall clock, one error shape."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from actorserve.domain.entities import JSONValue
from actorserve.domain.errors import ConfigError, StateError
from actorserve.domain.ports import Clock
from actorserve.domain.state import Document, check_key, check_name

__all__ = ["WallClock", "decode_document", "encode_document", "epoch_ms", "mask_url", "state_error"]


class WallClock:
    """The `Clock` a store uses when none is given; stores read `now()`, a wall clock that processes share."""

    def monotonic(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)


def epoch_ms(clock: Clock) -> int:
    """`clock`'s wall-clock time in whole milliseconds since the epoch."""
    return int(clock.now().timestamp() * 1000)


def mask_url(url: str) -> str:
    """`url` with any password replaced by `***`, fit for messages and logs."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def state_error(url: str, message: str) -> StateError:
    """A one-line `StateError` that starts with the (masked) URL."""
    masked = mask_url(url)
    one_line = " ".join(str(message).split())
    return StateError(f"state store {masked}: {one_line}", url=masked)


def encode_document(kind: str, key: str, doc: Mapping[str, JSONValue]) -> str:
    """`doc` as compact JSON, after checking `kind` and `key`.

    Raises:
        ConfigError: a bad kind or key, or `doc` is not a JSON object (NaN included).
    """
    check_name(kind, field="kind")
    check_key(key)
    if not isinstance(doc, Mapping):
        msg = f"doc: {kind}/{key} must be a mapping, not {type(doc).__name__}"
        raise ConfigError(msg, field="doc")
    try:
        return json.dumps(doc, separators=(",", ":"), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        msg = f"doc: {kind}/{key} is not JSON: {exc}"
        raise ConfigError(msg, field="doc") from exc


def decode_document(url: str, kind: str, key: str, text: str | bytes) -> Document:
    """The document stored as `text`; a body that is not a JSON object is a `StateError`, never half-read."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise state_error(url, f"document {kind}/{key} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise state_error(url, f"document {kind}/{key} is not a JSON object")
    return value
