"""SimulatedInvoker.validate: a bad simulation parameter fails at register, by name, not later at load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import pytest

from actorserve.actors import InvokerSet, ServingRuntime
from actorserve.adapters import SimulatedInvoker, SimulationSettings
from actorserve.domain import ConfigError
from tests.fakes import make_version

BAD_VALUES: dict[str, list[object]] = {
    "load_time_s": ["slow", -1.0, float("inf"), True],
    "latency_ms": ["fast", -0.5, float("nan"), None],
    "latency_jitter_ms": ["some", -1],
    "error_rate": ["often", 1.5, -0.1],
    "hang_rate": ["rare", 2],
    "latency_distribution": ["gamma", 3],
    "batch_item_latency_ms": ["tiny", -2],
    "load_failures": ["twice", -1, 1.5],
    "hang_s": ["forever", float("inf")],
    "embedding_dim": ["big", 0, 2.5, False],
}


def test_every_simulation_setting_has_bad_values_below() -> None:
    assert set(BAD_VALUES) == {f.name for f in fields(SimulationSettings)}


@pytest.mark.parametrize(("name", "value"), [(name, value) for name, values in BAD_VALUES.items() for value in values])
def test_validate_refuses_a_bad_simulation_parameter_naming_it(name: str, value: object) -> None:
    version = make_version(parameters={name: value})
    with pytest.raises(ConfigError) as caught:
        SimulatedInvoker().validate(version)
    assert caught.value.field == f"parameters.{name}"
    assert str(caught.value).startswith(f"parameters.{name}: ")


def test_a_wrong_type_says_what_was_expected_and_what_came() -> None:
    with pytest.raises(ConfigError, match=r"^parameters\.latency_ms: must be a number >= 0 \(got 'fast'\)$"):
        SimulatedInvoker().validate(make_version(parameters={"latency_ms": "fast"}))


def test_validate_accepts_good_settings_and_ignores_other_parameters() -> None:
    parameters: dict[str, object] = {
        "latency_ms": 3,
        "latency_jitter_ms": 1.5,
        "error_rate": 1,
        "latency_distribution": "lognormal",
        "load_failures": 2,
        "embedding_dim": 16,
        "price_per_second": 0.01,
        "anything_else": "kept for other code",
    }
    SimulatedInvoker().validate(make_version(parameters=parameters))


@pytest.mark.parametrize(
    "make_runtime",
    [
        ServingRuntime,
        lambda: ServingRuntime(SimulatedInvoker()),
        lambda: ServingRuntime(InvokerSet({"simulated": SimulatedInvoker()}, default="simulated")),
    ],
    ids=["default-invoker-set", "bare-simulated", "named-in-a-set"],
)
def test_register_refuses_a_bad_simulation_parameter_and_registers_nothing(
    make_runtime: Callable[[], ServingRuntime],
) -> None:
    with make_runtime() as rt:
        with pytest.raises(ConfigError, match=r"^parameters\.latency_ms: must be a number >= 0 \(got 'fast'\)"):
            rt.register(make_version(parameters={"latency_ms": "fast"}))
        assert rt.get_version("v1") is None
        assert rt.list_versions() == []


@pytest.mark.parametrize(
    "version_args",
    [{"framework": "mock"}, {"framework": "simulated"}, {"parameters": {"invoker": "simulated"}}],
    ids=["framework-alias", "framework-name", "explicit-invoker"],
)
def test_the_invoker_set_asks_the_simulated_backend_whichever_way_a_version_names_it(
    version_args: dict[str, object],
) -> None:
    parameters = {**dict(version_args.get("parameters", {})), "error_rate": 7}  # type: ignore[call-overload]
    version = make_version(framework=str(version_args.get("framework", "pytorch")), parameters=parameters)
    invokers = InvokerSet()
    try:
        with pytest.raises(ConfigError, match=r"^parameters\.error_rate: must be between 0 and 1"):
            invokers.validate(version)
    finally:
        invokers.close()
