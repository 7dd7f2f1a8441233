"""domain.multiplicity: Holm's step-down adjustment by hand, against the step-down rule, and statsmodels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorserve.domain.multiplicity import holm


def test_a_hand_worked_example_in_input_order() -> None:
    # sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> max 0.06)
    result = holm([0.03, 0.01, 0.04, 0.02], alpha=0.05)
    assert result.adjusted == pytest.approx((0.06, 0.04, 0.06, 0.06))
    assert result.rejected == (False, True, False, False)


def test_a_step_down_that_stops_at_the_first_acceptance() -> None:
    result = holm([0.001, 0.2, 0.011, 0.5, 0.04], alpha=0.05)
    # thresholds 0.01, 0.0125, 0.0167, 0.025, 0.05: rejects 0.001 and 0.011, then 0.04 > 0.0167 stops it
    assert result.rejected == (True, False, True, False, False)
    assert result.adjusted == pytest.approx((0.005, 0.4, 0.044, 0.5, 0.12))


def test_adjusted_values_are_capped_at_one_and_empty_input_is_empty() -> None:
    assert holm([0.6, 0.7]).adjusted == (1.0, 1.0)
    assert holm([]).adjusted == ()


def step_down(p_values: list[float], alpha: float) -> list[bool]:
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected


@given(st.lists(st.floats(0.0, 1.0), max_size=12), st.sampled_from([0.01, 0.05, 0.1]))
def test_rejections_are_the_step_down_rule(p_values: list[float], alpha: float) -> None:
    result = holm(p_values, alpha)
    assert list(result.rejected) == step_down(p_values, alpha)
    assert all(a >= p for a, p in zip(result.adjusted, p_values, strict=True))


def test_it_matches_statsmodels() -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p_values = [0.003, 0.04, 0.012, 0.2, 0.0001, 0.049]
    rejected, adjusted, _, _ = multitest.multipletests(p_values, alpha=0.05, method="holm")
    result = holm(p_values, 0.05)
    assert list(result.rejected) == list(rejected)
    assert list(result.adjusted) == pytest.approx(list(adjusted))


@pytest.mark.parametrize(("p_values", "alpha"), [([0.1, 1.5], 0.05), ([float("nan")], 0.05), ([0.1], 0.0)])
def test_bad_arguments_are_refused(p_values: list[float], alpha: float) -> None:
    with pytest.raises(ValueError, match="p_values|alpha"):
        holm(p_values, alpha)
