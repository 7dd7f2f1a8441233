"""checked_result: an invoker's result made safe to count, at the worker's fence."""

from __future__ import annotations

from typing import Any

import pytest

from actorserve.domain import ErrorCode, InvocationResult
from actorserve.domain.results import checked_result


def test_a_well_formed_result_passes_through_as_the_same_object() -> None:
    result = InvocationResult(output={"y": 1}, input_tokens=3, output_tokens=2)
    assert checked_result(result) is result


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, 0), ("12", 12), (" 7 ", 7), (4.0, 4), (0, 0)],
)
def test_unambiguous_token_counts_are_coerced(given: Any, expected: int) -> None:
    result = checked_result(InvocationResult(output="x", input_tokens=given, output_tokens=given))
    assert result.ok
    assert (result.input_tokens, result.output_tokens) == (expected, expected)


@pytest.mark.parametrize("given", ["twelve", -1, 1.5, float("nan"), float("inf"), True, [3], "-3"])
def test_other_token_counts_become_a_model_error_naming_the_field(given: Any) -> None:
    result = checked_result(InvocationResult(output="x", input_tokens=1, output_tokens=given))
    assert not result.ok
    assert result.error_code is ErrorCode.MODEL_ERROR
    assert result.error is not None
    assert result.error.startswith("invoker result output_tokens: must be a whole number >= 0")


@pytest.mark.parametrize(("given", "expected"), [("timeout", ErrorCode.TIMEOUT), ("OVERLOADED", ErrorCode.OVERLOADED)])
def test_an_error_code_given_by_value_or_name_is_coerced(given: str, expected: ErrorCode) -> None:
    result = checked_result(InvocationResult(error="slow", error_code=given))  # type: ignore[arg-type]
    assert result.error_code is expected
    assert result.error == "slow"


@pytest.mark.parametrize("given", [500, "teapot", 1.5])
def test_an_unknown_error_code_becomes_a_model_error_that_says_so(given: object) -> None:
    result = checked_result(InvocationResult(error="boom", error_code=given))  # type: ignore[arg-type]
    assert result.error_code is ErrorCode.MODEL_ERROR
    assert result.error is not None
    assert "error_code" in result.error
    assert repr(given) in result.error


def test_an_error_code_without_a_sentence_is_a_failure_with_one() -> None:
    result = checked_result(InvocationResult(output="partial", error_code=ErrorCode.TIMEOUT))
    assert not result.ok
    assert result.error_code is ErrorCode.TIMEOUT
    assert result.error == "invoker reported timeout without an error message"


def test_an_error_that_is_not_a_string_becomes_its_text() -> None:
    result = checked_result(InvocationResult(error=ValueError("bad row"), error_code=ErrorCode.INVALID_INPUT))  # type: ignore[arg-type]
    assert result.error == "bad row"
    assert result.error_code is ErrorCode.INVALID_INPUT


def test_something_else_entirely_is_a_model_error() -> None:
    result = checked_result({"output": 1})
    assert result.error == "invoker returned dict, not InvocationResult"
    assert result.error_code is ErrorCode.MODEL_ERROR
