"""The real clock, for production use of the `Clock` port."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["SystemClock"]


class SystemClock:
    """`Clock` backed by `time.monotonic` and UTC wall time."""

    monotonic = staticmethod(time.monotonic)
    """Seconds on the monotonic clock (the C function itself: no Python frame on the hot path)."""

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)
