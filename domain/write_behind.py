"""WriteBehind: statistics increments buffered between flushes, merged, bounded, with drops counted.

Pure: the state actor adds every statistics event here and, each flush
interval, hands `batch()` to the store; only a successful write `clear()`s
it, so a store that is down keeps the increments until it is back. Merging
keeps the buffer as large as the number of distinct counters touched, not
the number of events; past `max_targets` distinct counter sets, new ones are
dropped and counted (counters already buffered keep adding up).
"""

from __future__ import annotations

from actorserve.domain.errors import ConfigError
from actorserve.domain.state import CounterBatch, Number

__all__ = ["WriteBehind"]


class WriteBehind:
    """Buffered counter increments of one writer.

    Args:
        max_targets: the most distinct `(kind, key)` counter sets held at once.
    """

    def __init__(self, max_targets: int = 100_000) -> None:
        if isinstance(max_targets, bool) or not isinstance(max_targets, int) or max_targets < 1:
            raise ConfigError(f"max_targets: must be an int >= 1 (got {max_targets!r})", field="max_targets")
        self._max = max_targets
        self._merged: dict[tuple[str, str], dict[str, Number]] = {}
        self._pending = 0
        self._dropped = 0

    @property
    def pending(self) -> int:
        """Events added since the last successful flush."""
        return self._pending

    @property
    def dropped(self) -> int:
        """Events refused because the buffer was full (never written)."""
        return self._dropped

    def add(self, batch: CounterBatch, events: int = 1) -> bool:
        """Merge one event's increments; False (and counted as dropped) when a new counter set does not fit."""
        merged = self._merged
        fresh = sum(1 for target in batch if target not in merged)
        if fresh and len(merged) + fresh > self._max:
            self._dropped += events
            return False
        for target, fields in batch.items():
            into = merged.get(target)
            if into is None:
                merged[target] = dict(fields)
                continue
            for name, delta in fields.items():
                into[name] = into.get(name, 0) + delta
        self._pending += events
        return True

    def drop(self, events: int) -> None:
        """Count `events` dropped elsewhere in the writer's buffers (they share one `dropped` figure)."""
        self._dropped += events

    def batch(self) -> dict[tuple[str, str], dict[str, Number]]:
        """Everything buffered, merged: what the next flush writes (empty when nothing is pending)."""
        return self._merged

    def clear(self) -> None:
        """The batch was written: start afresh."""
        self._merged = {}
        self._pending = 0
