from __future__ import annotations

import threading

import pytest

from actorserve.adapters import MockModelInvoker, SimulatedInvoker
from actorserve.domain import ErrorCode, ModelRequest, ModelType
from tests.fakes import make_version


def req(data: dict[str, object]) -> ModelRequest:
    return ModelRequest("r1", "m", "v1", data)


def test_language_models_echo_the_prompt_and_estimate_tokens() -> None:
    inv = SimulatedInvoker()
    h = inv.load(make_version(model_type=ModelType.LANGUAGE_MODEL))
    r = inv.invoke(h, req({"prompt": "hello world"}), 1.0)
    assert r.ok
    assert r.output["text"] == "Generated response for: hello world"  # type: ignore[index]
    assert r.input_tokens == 3
    assert r.output_tokens > 0


def test_outputs_depend_on_the_model_type() -> None:
    inv = SimulatedInvoker()
    emb = inv.invoke(inv.load(make_version(model_type=ModelType.EMBEDDING_MODEL)), req({"text": "a"}), 1.0)
    vec = emb.output["embedding"]  # type: ignore[index]
    assert len(vec) == 8
    assert sum(x * x for x in vec) == pytest.approx(1.0)
    vis = inv.invoke(inv.load(make_version(model_type=ModelType.VISION_MODEL)), req({"image": "x"}), 1.0)
    assert vis.output["label"] in {"cat", "dog", "bird", "car"}  # type: ignore[index]
    custom = inv.invoke(inv.load(make_version(model_type=ModelType.CUSTOM_MODEL)), req({}), 1.0)
    assert custom.output["result"] == "processed"  # type: ignore[index]


def test_seeded_error_rate_is_repeatable_and_close_to_the_rate() -> None:
    def errors(seed: int) -> list[bool]:
        inv = SimulatedInvoker(error_rate=0.3, seed=seed)
        h = inv.load(make_version())
        return [not inv.invoke(h, req({"prompt": "x"}), 1.0).ok for _ in range(2000)]

    a, b = errors(11), errors(11)
    assert a == b
    assert 0.26 < sum(a) / len(a) < 0.34
    inv = SimulatedInvoker(error_rate=1.0)
    result = inv.invoke(inv.load(make_version()), req({}), 1.0)
    assert result.error_code is ErrorCode.MODEL_ERROR


def test_versions_override_settings_through_parameters() -> None:
    inv = SimulatedInvoker(error_rate=0.0)
    v = make_version(parameters={"error_rate": 1.0, "latency_ms": 0.0})
    assert inv.settings_for(v).error_rate == 1.0
    assert not inv.invoke(inv.load(v), req({}), 1.0).ok


def test_bad_overrides_name_the_parameter() -> None:
    inv = SimulatedInvoker()
    with pytest.raises(ValueError, match=r"^parameters\.error_rate: must be between 0 and 1"):
        inv.load(make_version(parameters={"error_rate": 2}))
    with pytest.raises(ValueError, match=r"^parameters\.latency_distribution"):
        inv.load(make_version(parameters={"latency_distribution": "zipf"}))
    with pytest.raises(ValueError, match=r"^latency_ms: must be a number >= 0"):
        SimulatedInvoker(latency_ms=-1)


def test_load_failures_fail_the_first_loads_only() -> None:
    inv = SimulatedInvoker()
    v = make_version(parameters={"load_failures": 2})
    for _ in range(2):
        with pytest.raises(RuntimeError, match="simulated load failure"):
            inv.load(v)
    assert inv.load(v) is not None


@pytest.mark.parametrize("distribution", ["uniform", "normal", "exponential", "lognormal"])
def test_latency_distributions_stay_non_negative(distribution: str) -> None:
    inv = SimulatedInvoker(latency_ms=1.0, latency_jitter_ms=5.0, seed=1, latency_distribution=distribution)
    h = inv.load(make_version())
    samples = [inv._latency_s(h, 1) for _ in range(500)]  # type: ignore[arg-type]
    assert min(samples) >= 0
    assert len(set(samples)) > 100


def test_close_releases_hangs_and_loads() -> None:
    inv = SimulatedInvoker(hang_rate=1.0, load_time_s=0.0)
    h = inv.load(make_version())
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(inv.invoke(h, req({}), 1.0)))
    t.start()
    inv.close()
    t.join(5)
    assert not t.is_alive()
    assert got[0].error_code is ErrorCode.TIMEOUT  # type: ignore[attr-defined]
    slow = SimulatedInvoker(load_time_s=60)
    slow.close()
    with pytest.raises(RuntimeError, match="closed while loading"):
        slow.load(make_version())


def test_mock_model_invoker_is_the_upstream_alias() -> None:
    assert MockModelInvoker is SimulatedInvoker
