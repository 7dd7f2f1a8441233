"""`batch_wait_ms = "auto"` and `max_latency_ms`: accepted, validated, and named in every refusal."""

from __future__ import annotations

import pytest

from actorserve.domain import ConfigError, ServingConfig


def test_auto_is_accepted_and_the_fixed_wait_reads_zero() -> None:
    config = ServingConfig(max_batch_size=32, batch_wait_ms="auto", max_latency_ms=50.0)
    assert config.adaptive_batching
    assert config.batch_wait_s == 0.0
    assert config.max_latency_ms == 50.0


def test_a_fixed_wait_is_unchanged() -> None:
    config = ServingConfig(max_batch_size=8, batch_wait_ms=2.0)
    assert not config.adaptive_batching
    assert config.batch_wait_s == pytest.approx(0.002)
    assert config.max_latency_ms is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"batch_wait_ms": "adaptive"}, "batch_wait_ms"),
        ({"batch_wait_ms": "AUTO"}, "batch_wait_ms"),
        ({"batch_wait_ms": True}, "batch_wait_ms"),
        ({"batch_wait_ms": "auto", "max_latency_ms": 0}, "max_latency_ms"),
        ({"batch_wait_ms": "auto", "max_latency_ms": -5.0}, "max_latency_ms"),
        ({"batch_wait_ms": "auto", "max_latency_ms": float("inf")}, "max_latency_ms"),
        ({"batch_wait_ms": "auto", "max_latency_ms": "50"}, "max_latency_ms"),
        ({"batch_wait_ms": "auto", "max_latency_ms": 1e12}, "max_latency_ms"),
        ({"batch_wait_ms": 1.0, "max_latency_ms": 50.0}, "max_latency_ms"),
    ],
)
def test_bad_values_are_config_errors_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{field}: must be") as info:
        ServingConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_a_wait_without_auto_says_auto_is_allowed() -> None:
    with pytest.raises(ConfigError, match='or "auto"'):
        ServingConfig(batch_wait_ms=-1)


def test_from_mapping_reads_auto_like_the_config_file() -> None:
    config = ServingConfig.from_mapping({"max_batch_size": 16, "batch_wait_ms": "auto", "max_latency_ms": 25})
    assert config.adaptive_batching
    assert config.max_latency_ms == 25
    with pytest.raises(ConfigError, match=r"^serving\.max_latency_ms: must be") as info:
        ServingConfig.from_mapping({"batch_wait_ms": "auto", "max_latency_ms": -1})
    assert info.value.field == "serving.max_latency_ms"
