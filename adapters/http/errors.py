"""The protocol edges as tables: each failure kind → HTTP status, one table per protocol.

A failure is an `ErrorCode` from the runtime's answer, or a `Fault` the front
finds itself (no credentials, a body too large, JSON that does not parse).
Handlers never choose a status: they raise `HttpError` or hand a failed
`ModelResponse` to `failure_of`, and the protocol's `error_response` looks the
status up here (vLLM's OpenAI server does the same in one `create_error_response`).
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from actorserve.domain.entities import ModelResponse
from actorserve.domain.enums import ErrorCode

__all__ = [
    "OPENAI_ERRORS",
    "RETRY_AFTER_S",
    "V2_STATUS",
    "Fault",
    "HttpError",
    "Protocol",
    "error_response",
    "failure_of",
    "guarded",
]

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1
"""The `Retry-After` (seconds) an OVERLOADED answer carries: queues of local models turn over in well under that."""


class Fault(enum.Enum):
    """Failures the front finds before (or instead of) asking the runtime."""

    UNAUTHORIZED = "unauthorized"
    """No bearer token, or not one of the configured keys."""
    TOO_LARGE = "too_large"
    """The body is longer than `max_body_bytes`."""
    MALFORMED = "malformed"
    """The body is not JSON (the message names the position)."""
    SCHEMA = "schema"
    """The JSON is not the shape the route expects (the message names the field)."""
    NO_ROUTE = "no_route"
    """No such path."""
    CONFLICT = "conflict"
    """A repository load of a version id that is already live."""
    UNSUPPORTED = "unsupported"
    """A protocol feature the front does not implement (streaming, binary tensors)."""


class Protocol(enum.Enum):
    """The two dialects the front speaks; each formats errors its own way."""

    V2 = "v2"
    OPENAI = "openai"


Kind = ErrorCode | Fault
Handler = Callable[[Request], Awaitable[Response]]

V2_STATUS: Mapping[Kind, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.NOT_READY: 503,
    ErrorCode.OVERLOADED: 429,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.MODEL_ERROR: 500,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.CANCELLED: 499,
    Fault.UNAUTHORIZED: 401,
    Fault.TOO_LARGE: 413,
    Fault.MALFORMED: 400,
    Fault.SCHEMA: 422,
    Fault.NO_ROUTE: 404,
    Fault.CONFLICT: 409,
    Fault.UNSUPPORTED: 400,
}
"""Open Inference Protocol V2: status by kind; the body is `{"error": message}`."""

OPENAI_ERRORS: Mapping[Kind, tuple[int, str]] = {
    ErrorCode.NOT_FOUND: (404, "not_found_error"),
    ErrorCode.INVALID_INPUT: (400, "invalid_request_error"),
    ErrorCode.NOT_READY: (503, "service_unavailable"),
    ErrorCode.OVERLOADED: (429, "rate_limit_error"),
    ErrorCode.TIMEOUT: (504, "timeout"),
    ErrorCode.MODEL_ERROR: (500, "server_error"),
    ErrorCode.UNAVAILABLE: (503, "service_unavailable"),
    ErrorCode.CANCELLED: (499, "cancelled"),
    Fault.UNAUTHORIZED: (401, "authentication_error"),
    Fault.TOO_LARGE: (413, "invalid_request_error"),
    Fault.MALFORMED: (400, "invalid_request_error"),
    Fault.SCHEMA: (422, "invalid_request_error"),
    Fault.NO_ROUTE: (404, "not_found_error"),
    Fault.CONFLICT: (409, "invalid_request_error"),
    Fault.UNSUPPORTED: (400, "invalid_request_error"),
}
"""OpenAI-compatible: (status, error type) by kind; the body is `{"error": {message, type, param, code}}`."""


class HttpError(Exception):
    """A request the front answers with an error; the protocol's table picks the status.

    Args:
        kind: an `ErrorCode` or a `Fault`.
        message: one sentence, starting with the field or tensor it is about.
        param: the request field at fault (OpenAI's `param`), if one is.
    """

    def __init__(
        self, kind: Kind, message: str, *, param: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


def failure_of(response: ModelResponse, headers: Mapping[str, str] | None = None) -> HttpError:
    """The failure a failed runtime answer is sent back as (with `headers`, e.g. the answering version)."""
    code = response.error_code or ErrorCode.MODEL_ERROR
    return HttpError(code, response.error or code.value, headers=headers)


def guarded(protocol: Protocol, handler: Handler) -> Handler:
    """`handler`, with every `HttpError` it raises answered in `protocol`'s format."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except HttpError as failure:
            return error_response(protocol, failure)
        except Exception as exc:  # a bug here still answers in the protocol's format
            log.exception("the HTTP front failed on %s %s", request.method, request.url.path)
            internal = HttpError(ErrorCode.MODEL_ERROR, f"the HTTP front failed: {type(exc).__name__}")
            return error_response(protocol, internal)

    endpoint.__name__ = endpoint.__qualname__ = getattr(handler, "__name__", "endpoint")
    return endpoint


def error_response(protocol: Protocol, failure: HttpError, headers: Mapping[str, str] | None = None) -> Response:
    """The error in `protocol`'s format, its status from that protocol's table.

    OVERLOADED carries `Retry-After`; UNAUTHORIZED carries `WWW-Authenticate`.
    """
    extra = {**failure.headers, **(headers or {})}
    if failure.kind is ErrorCode.OVERLOADED:
        extra["retry-after"] = str(RETRY_AFTER_S)
    if failure.kind is Fault.UNAUTHORIZED:
        extra["www-authenticate"] = "Bearer"
    if protocol is Protocol.V2:
        status = V2_STATUS[failure.kind]
        body: dict[str, object] = {"error": failure.message}
    else:
        status, kind = OPENAI_ERRORS[failure.kind]
        body = {"error": {"message": failure.message, "type": kind, "param": failure.param, "code": failure.kind.value}}
    return Response(json.dumps(body), status_code=status, headers=extra, media_type="application/json")
