"""Values of the `StateStore` port: documents and tombstones, counter batches, names, the schema version.

A store keeps three things under one namespace (DESIGN.md §7):

- **documents**: JSON objects by `(kind, key)`, e.g. `("version", "gpt-2:v1")`;
  deleting one leaves a tombstone, so what was unloaded stays gone after a
  restart. A document may carry a time-to-live (pending request ids).
- **counters**: named numeric fields by `(kind, key)`, only ever incremented,
  in batches; every writer's increments add up (sufficient statistics).
- **leases**: one owner at a time per name, until it releases or the lease expires.

The helpers here are pure: they check names and batches and merge batches,
so the actor that buffers increments and every store agree on the rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from actorserve.domain.entities import JSONValue
from actorserve.domain.errors import ConfigError

__all__ = [
    "DEFAULT_NAMESPACE",
    "SCHEMA_VERSION",
    "CounterBatch",
    "Counters",
    "Document",
    "DocumentEntry",
    "Number",
    "StoredDocument",
    "as_total",
    "check_increments",
    "check_key",
    "check_name",
    "check_ttl_ms",
    "merge_increments",
]

SCHEMA_VERSION = 1
"""The layout this code writes; a store holding a higher number is refused on open."""

DEFAULT_NAMESPACE = "actorserve"
"""The namespace a store uses unless told otherwise; two namespaces never see each other's data."""

Document: TypeAlias = dict[str, JSONValue]
"""A JSON object (what `json.loads` of an object returns)."""

Number: TypeAlias = int | float
"""A counter delta or total."""

Counters: TypeAlias = dict[str, Number]
"""The totals of one counter set: field name → total across every writer."""

DocumentEntry: TypeAlias = tuple[str, str, Mapping[str, JSONValue], int | None]
"""One document of a batch write: `(kind, key, doc, ttl_ms or None)`."""

CounterBatch: TypeAlias = Mapping[tuple[str, str], Mapping[str, Number]]
"""Increments applied together: `(kind, key)` → `{field: delta}`."""

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_MAX_KEY = 512


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One entry of `StateStore.list_documents`: a live document or a tombstone.

    Attributes:
        key: The document's key within its kind.
        doc: The document, or None for a tombstone (the entry was deleted).
    """

    key: str
    doc: Document | None

    @property
    def deleted(self) -> bool:
        """True for a tombstone."""
        return self.doc is None


def check_name(value: str, *, field: str) -> str:
    """Return `value` if it is a valid kind, namespace or lease name, else raise.

    Names are 1-64 characters of letters, digits, `_`, `.` and `-`, so they
    can be joined with `:` into store keys without ambiguity.

    Raises:
        ConfigError: `value` is not such a name (`field` says which argument).
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        msg = f"{field}: {value!r} is not a name (1-64 letters, digits, '_', '.', '-')"
        raise ConfigError(msg, field=field)
    return value


def check_key(key: str, *, field: str = "key") -> str:
    """Return `key` if it is a valid document, counter or owner key (a non-empty string of at most 512 characters).

    Raises:
        ConfigError: `key` is empty, too long or not a string.
    """
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY or "\x00" in key:
        msg = f"{field}: {key!r} must be a non-empty string of at most {_MAX_KEY} characters"
        raise ConfigError(msg, field=field)
    return key


def check_ttl_ms(ttl_ms: int, *, field: str = "ttl_ms") -> int:
    """Return `ttl_ms` if it is a positive whole number of milliseconds.

    Raises:
        ConfigError: `ttl_ms` is not a positive int.
    """
    if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms <= 0:
        msg = f"{field}: {ttl_ms!r} must be a positive int (milliseconds)"
        raise ConfigError(msg, field=field)
    return ttl_ms


def check_increments(batch: CounterBatch) -> CounterBatch:
    """Return `batch` if every kind, key, field and delta is valid.

    Deltas are finite ints or floats (not bools); fields are non-empty strings.

    Raises:
        ConfigError: the first invalid entry, named.
    """
    for (kind, key), fields in batch.items():
        check_name(kind, field="kind")
        check_key(key)
        for name, delta in fields.items():
            check_key(name, field="field")
            if isinstance(delta, bool) or not isinstance(delta, int | float) or not math.isfinite(delta):
                msg = f"delta: {kind}/{key}.{name} = {delta!r} is not a finite number"
                raise ConfigError(msg, field="delta")
    return batch


def merge_increments(*batches: CounterBatch) -> dict[tuple[str, str], dict[str, Number]]:
    """Sum several batches into one (what a writer buffers between flushes)."""
    merged: dict[tuple[str, str], dict[str, Number]] = {}
    for batch in batches:
        for target, fields in batch.items():
            into = merged.setdefault(target, {})
            for name, delta in fields.items():
                into[name] = into.get(name, 0) + delta
    return merged


def as_total(value: Number) -> Number:
    """A total as stores return it: an int when it is a whole number, else a float.

    Both stores normalise this way, so a reader never depends on which one
    (or which writer's delta type) produced the total.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
