"""Failed answers: one builder, so every failed `ModelResponse` has the same shape wherever it is made.

Used by the request path (caller threads), the router, the experiments and
the version actors. By convention a method that answers a reply with one is
called `fail`.
"""

from __future__ import annotations

from actorserve.domain.entities import ModelResponse
from actorserve.domain.enums import ErrorCode
from actorserve.domain.ports import Clock

__all__ = ["failed_response"]


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
