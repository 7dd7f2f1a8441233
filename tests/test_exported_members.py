from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["domain", "actors", "adapters"])
def test_all_is_sorted_and_every_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), n)) or names == sorted(names)
    for name in names:
        assert hasattr(module, name), name


def test_public_names_of_the_design_are_exported() -> None:
    import actors
    import adapters
    import domain

    for name in ("ServingRuntime", "ModelServingInfrastructure", "get_model_serving_infrastructure"):
        assert name in actors.__all__
    for name in ("SimulatedInvoker", "MockModelInvoker"):
        assert name in adapters.__all__
    for name in ("ModelVersion", "ModelType", "ModelStatus", "ServingConfig", "RoutingStrategy", "ErrorCode"):
        assert name in domain.__all__
