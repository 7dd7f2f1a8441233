"""The real clock, for production use of the `Clock` port."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["SystemClock"]


class SystemClock:
    """`Clock` backed by `time.monotonic` and UTC wall time."""

    def monotonic(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)
