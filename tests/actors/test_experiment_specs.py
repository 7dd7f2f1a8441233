"""The experiment specs both `runtime.experiments` and `actorserve check` build."""

from __future__ import annotations

import pytest

from actorserve.actors.experiments.specs import ab_test_spec, canary_spec, ensemble_spec, shadow_spec
from actorserve.domain import ConfigError


def test_defaults_match_the_start_calls() -> None:
    assert ab_test_spec("t", ["a", "b"]).weights == (1.0, 1.0)
    assert ensemble_spec(["a", "b"]).min_agreements == 2
    assert ensemble_spec(["a", "b"], aggregation_method="first_success").min_agreements == 1
    assert canary_spec("a", "b").steps == (1.0, 5.0, 25.0, 50.0, 100.0)
    assert shadow_spec("s", "a", "b").traffic_percentage == 100.0


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ab_test_spec("t", ["a", "b"], ["x", "y"]), "weights[0]"),  # type: ignore[list-item]
        (lambda: ab_test_spec("t", "ab"), "arms"),
        (lambda: canary_spec("a", "b", steps=[1, "half"]), "steps[1]"),  # type: ignore[list-item]
        (lambda: ensemble_spec(["a", "b"], weights={"a": "heavy"}), "weights.a"),  # type: ignore[dict-item]
        (lambda: shadow_spec("s", "a", "b", traffic_percentage=None), "traffic_percentage"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_argument_is_a_config_error_naming_it(build: object, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()  # type: ignore[operator]
    assert str(info.value).startswith(f"{field}: ")
