"""Requests at the edge of the runtime: validation, ids, and failed answers.

Shared by the runtime (caller threads), the router and the version actors,
so every failed `ModelResponse` has the same shape wherever it is made.
"""

from __future__ import annotations

import itertools
import math
import uuid

from actorserve.domain.config import MAX_WAIT_S
from actorserve.domain.entities import ModelResponse
from actorserve.domain.enums import ErrorCode
from actorserve.domain.ports import Clock

__all__ = ["RequestIds", "check_request", "failed_response"]


class RequestIds:
    """UUID-shaped request ids: a random prefix per runtime and a counter (uuid4 costs 2 µs a call)."""

    def __init__(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        """The next id."""
        return f"{self._prefix}{next(self._counter):012x}"


_MAX_TIMEOUT_MS = MAX_WAIT_S * 1000.0


def _invalid(field: str, rule: str, value: object) -> str:
    shown = type(value).__name__ if isinstance(value, list | tuple | set | bytes) else repr(value)
    return f"{field}: must be {rule} (got {shown})"


def check_request(  # noqa: PLR0911 - one early return per field
    model_name: object,
    input_data: object,
    version_id: object,
    parameters: object,
    timeout_ms: object,
    key: object,
) -> str | None:
    """One line naming the first invalid argument of a serve call, or None."""
    if not isinstance(model_name, str) or not model_name.strip():
        return _invalid("model_name", "a non-empty string", model_name)
    if not isinstance(input_data, dict):
        return f"input_data: must be a dict (got {type(input_data).__name__})"
    if version_id is not None and (not isinstance(version_id, str) or not version_id.strip()):
        return _invalid("version_id", "a non-empty string or None", version_id)
    if parameters is not None and not isinstance(parameters, dict):
        return f"parameters: must be a dict or None (got {type(parameters).__name__})"
    if timeout_ms is not None and (
        not isinstance(timeout_ms, int | float)
        or isinstance(timeout_ms, bool)
        or not math.isfinite(timeout_ms)
        or not 0 < timeout_ms <= _MAX_TIMEOUT_MS
    ):
        return _invalid("timeout_ms", f"a number > 0 and <= {_MAX_TIMEOUT_MS:.0f}, or None", timeout_ms)
    if key is not None and not isinstance(key, str):
        return _invalid("key", "a string or None", key)
    return None


def failed_response(
    clock: Clock,
    *,
    request_id: str,
    model_id: object,
    version_id: object,
    started_at: float,
    code: ErrorCode,
    error: str,
) -> ModelResponse:
    """A failed answer; latency counts from `started_at` (monotonic seconds)."""
    return ModelResponse(
        request_id=request_id,
        model_id=model_id if isinstance(model_id, str) else "unknown",
        version_id=version_id if isinstance(version_id, str) and version_id else "unknown",
        output_data=None,
        latency_ms=(clock.monotonic() - started_at) * 1000.0,
        timestamp=clock.now(),
        success=False,
        error=error,
        error_code=code,
    )
