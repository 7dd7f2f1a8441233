"""Reading a request: the body within its limit, JSON that names where it broke, typed fields."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from actorserve.adapters.http.errors import Fault, HttpError

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["TIMEOUT_HEADER", "number", "read_json", "request_timeout", "text_field"]

TIMEOUT_HEADER = "x-actorserve-timeout-ms"
"""The per-request deadline in milliseconds (capped by the version's `timeout_ms`)."""


async def read_json(request: Request, limit: int) -> dict[str, object]:
    """The body as a JSON object.

    Raises:
        HttpError: TOO_LARGE past `limit` bytes (checked on Content-Length
            first, then while reading); MALFORMED naming line, column and
            character of the first error; SCHEMA when it is not an object.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpError(Fault.TOO_LARGE, f"body: {declared} bytes is more than the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(Fault.TOO_LARGE, f"body: more than the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise HttpError(Fault.MALFORMED, f"body: not UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise HttpError(Fault.MALFORMED, f"body: malformed JSON at {where}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise HttpError(Fault.SCHEMA, f"body: must be a JSON object (got {type(data).__name__})")
    return data


def number(value: object, where: str) -> float:
    """`value` as a finite number > 0.

    Raises:
        HttpError: SCHEMA naming `where`.
    """
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise HttpError(Fault.SCHEMA, f"{where}: must be a number > 0 (got {value!r})", param=where)
    return float(value)


def request_timeout(request: Request, body_value: object = None, body_field: str = "timeout_ms") -> float | None:
    """The deadline the client asked for, in ms: the body field, else the `x-actorserve-timeout-ms` header."""
    if body_value is not None:
        return number(body_value, body_field)
    header = request.headers.get(TIMEOUT_HEADER)
    return None if header is None else number(header, TIMEOUT_HEADER)


def text_field(body: dict[str, object], name: str, *, required: bool = True) -> str | None:
    """A string field of the body.

    Raises:
        HttpError: SCHEMA naming the field when it is missing (and required) or not a non-empty string.
    """
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise HttpError(Fault.SCHEMA, f"{name}: must be a non-empty string (got {value!r})", param=name)
    return value
