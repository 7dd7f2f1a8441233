"""An invoker's result, checked at the worker's fence before anything counts it.

Backends are other people's code: a token count of None or "12", an error code
of "timeout" or 500. Counting such a value used to fail the version for good;
here what is unambiguous is coerced, and anything else becomes a MODEL_ERROR
result whose sentence names the field, so one bad result costs one request.
"""

from __future__ import annotations

import math
from dataclasses import replace

from actorserve.domain.enums import ErrorCode, coerce_enum
from actorserve.domain.errors import ConfigError
from actorserve.domain.ports import InvocationResult

__all__ = ["checked_result"]


class _BadFieldError(Exception):
    def __init__(self, field: str, rule: str, value: object) -> None:
        super().__init__(f"invoker result {field}: must be {rule} (got {value!r})")


def _count(field: str, value: object) -> int:
    """A token count: a whole number >= 0; None means none was reported."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _BadFieldError(field, "a whole number >= 0", value)
    if isinstance(value, int):
        number: float = value
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise _BadFieldError(field, "a whole number >= 0", value)
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise _BadFieldError(field, "a whole number >= 0", value)
    return int(number)


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ still leaves a sentence
        return f"invoker gave an error of type {type(value).__name__}"


def _code(value: object) -> ErrorCode:
    if value is None:
        return ErrorCode.MODEL_ERROR
    try:
        return coerce_enum(ErrorCode, value, "error_code")
    except ConfigError:
        allowed = ", ".join(c.value for c in ErrorCode)
        raise _BadFieldError("error_code", f"an ErrorCode or one of: {allowed}", value) from None


def checked_result(result: object) -> InvocationResult:
    """`result` as a well-formed `InvocationResult`, or a MODEL_ERROR one naming what was wrong.

    Coerced: token counts given as None (0), an integral float or a digit
    string; an error code given as its value or name ("timeout"); an error
    sentence that is not a string (its `str`); an error code without a
    sentence (a failure with a sentence saying so). Refused: anything else.
    """
    if not isinstance(result, InvocationResult):
        error = f"invoker returned {type(result).__name__}, not InvocationResult"
        return InvocationResult(error=error, error_code=ErrorCode.MODEL_ERROR)
    tokens_in, tokens_out = result.input_tokens, result.output_tokens
    if (
        type(tokens_in) is int
        and type(tokens_out) is int
        and tokens_in >= 0
        and tokens_out >= 0
        and (result.error is None and result.error_code is None)
    ):
        return result  # the common case, checked cheaply
    try:
        tokens_in = _count("input_tokens", tokens_in)
        tokens_out = _count("output_tokens", tokens_out)
        if result.error is None and result.error_code is None:
            return replace(result, input_tokens=tokens_in, output_tokens=tokens_out)
        code = _code(result.error_code)
    except _BadFieldError as exc:
        return InvocationResult(error=str(exc), error_code=ErrorCode.MODEL_ERROR)
    given: object = result.error
    if given is None:
        error = f"invoker reported {code.value} without an error message"
    else:
        error = given if isinstance(given, str) else _text(given)
    return InvocationResult(
        output=result.output, input_tokens=tokens_in, output_tokens=tokens_out, error=error, error_code=code
    )
