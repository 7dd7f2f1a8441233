from __future__ import annotations

import pytest

from actorserve.actors import ServingRuntime
from actorserve.actors.invoker_set import InvokerSet
from actorserve.actors.plugins import invoker_names, load_invoker, register_invoker_factory
from actorserve.domain import ConfigError, ModelRequest
from tests.fakes import FakeInvoker, make_version


def test_versions_reach_the_backend_their_framework_names() -> None:
    onnx_like, http_like = FakeInvoker(output="onnx"), FakeInvoker(output="v2")
    invokers = InvokerSet({"onnx": onnx_like, "v2": http_like})
    assert invokers.backend_name(make_version(framework="ONNX")) == "onnx"
    assert invokers.backend_name(make_version(framework="onnxruntime")) == "onnx"
    assert invokers.backend_name(make_version(framework="triton")) == "v2"
    handle = invokers.load(make_version(framework="mlserver"))
    result = invokers.invoke(handle, ModelRequest("r", "m", "v1", {}), 1.0)
    assert result.output["out"] == "v2"  # type: ignore[index]
    assert http_like.loads == 1
    assert onnx_like.loads == 0


def test_parameters_invoker_wins_over_the_framework() -> None:
    chosen = FakeInvoker()
    invokers = InvokerSet({"mine": chosen})
    assert invokers.backend_name(make_version(framework="onnx", parameters={"invoker": "mine"})) == "mine"
    with pytest.raises(ConfigError, match="parameters.invoker: unknown 'nope'"):
        invokers.backend_name(make_version(parameters={"invoker": "nope"}))


def test_unknown_frameworks_fall_back_to_the_default() -> None:
    fallback = FakeInvoker()
    invokers = InvokerSet(default=fallback)
    assert invokers.backend_name(make_version(framework="pytorch")) == "default"
    assert InvokerSet().backend_name(make_version(framework="pytorch")) == "simulated"


def test_backends_are_built_once_from_entry_points_with_their_settings() -> None:
    invokers = InvokerSet(settings={"simulated": {"latency_ms": 0.0, "seed": 3}})
    a = invokers.resolve(make_version(framework="simulated"))
    b = invokers.resolve(make_version("v2", framework="mock"))
    assert a is b
    assert a.settings_for(make_version()).latency_ms == 0.0  # type: ignore[attr-defined]


def test_host_apps_add_factories_at_run_time() -> None:
    register_invoker_factory("fake-for-test", FakeInvoker)
    assert "fake-for-test" in invoker_names()
    assert isinstance(load_invoker("fake-for-test", latency=0.0), FakeInvoker)
    assert InvokerSet().backend_name(make_version(framework="fake-for-test")) == "fake-for-test"
    with pytest.raises(ConfigError, match="factory: must be callable"):
        register_invoker_factory("x", "not callable")  # type: ignore[arg-type]


def test_register_rejects_an_unknown_backend_by_name() -> None:
    with ServingRuntime() as rt, pytest.raises(ConfigError, match="parameters.invoker"):
        rt.register(make_version(parameters={"invoker": "missing-backend"}))


def test_close_closes_every_backend_and_later_builds_fail() -> None:
    a, b = FakeInvoker(), FakeInvoker()
    invokers = InvokerSet({"a": a}, default=b)
    invokers.close()
    assert a.closed.is_set()
    assert b.closed.is_set()
    with pytest.raises(ConfigError, match="stopped"):
        invokers.resolve(make_version(framework="simulated"))


def test_each_version_of_one_runtime_uses_its_own_backend() -> None:
    fast, other = FakeInvoker(output="fast"), FakeInvoker(output="other")
    with ServingRuntime(InvokerSet({"fast": fast}, default=other)) as rt:
        rt.register(make_version("a", "m1", framework="fast"))
        rt.register(make_version("b", "m2"))
        assert rt.wait_ready("a", 5)
        assert rt.wait_ready("b", 5)
        assert rt.serve("m1", {}).output_data["out"] == "fast"  # type: ignore[index]
        assert rt.serve("m2", {}).output_data["out"] == "other"  # type: ignore[index]


def test_a_backend_is_built_once_when_many_replicas_load_at_once() -> None:
    import threading

    built = []

    def factory(**settings: object) -> FakeInvoker:
        built.append(settings)
        return FakeInvoker()

    register_invoker_factory("counted-for-test", factory)
    invokers = InvokerSet()
    v = make_version(framework="counted-for-test")
    start = threading.Barrier(16)

    def load() -> None:
        start.wait(5)
        invokers.load(v)

    threads = [threading.Thread(target=load) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(built) == 1
