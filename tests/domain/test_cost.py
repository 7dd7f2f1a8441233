from __future__ import annotations

import math

import pytest

from actorserve.domain import Price, PriceTable
from tests.fakes import make_version


def test_price_adds_input_output_and_compute() -> None:
    p = Price(per_1k_input_tokens=1.0, per_1k_output_tokens=2.0, per_second=0.5)
    assert math.isclose(p.cost(500, 250, 2.0), 0.5 + 0.5 + 1.0)


def test_table_prefers_version_then_model_then_parameters_then_default() -> None:
    v = make_version("v1", "chat", parameters={"price_per_1k_input_tokens": 3.0})
    table = PriceTable({"chat": Price(per_1k_input_tokens=2.0)}, default=Price(per_1k_input_tokens=9.0))
    assert table.price_for(v).per_1k_input_tokens == 2.0
    assert PriceTable({"v1": Price(per_1k_input_tokens=1.0)}).price_for(v).per_1k_input_tokens == 1.0
    assert PriceTable().price_for(v).per_1k_input_tokens == 3.0
    assert PriceTable(default=Price(per_second=1.0)).price_for(make_version()).per_second == 1.0


def test_negative_prices_are_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match="^per_second: must be"):
        Price(per_second=-1)
    bad = make_version(parameters={"price_per_second": -2})
    with pytest.raises(ValueError, match="price_per_second"):
        PriceTable().price_for(bad)
