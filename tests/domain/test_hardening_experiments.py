"""Hardening of the pure experiment policies: any key hashes, any output votes and compares."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from actorserve.domain import EnsembleConfig
from actorserve.domain.abtest import ABTestSpec, assign
from actorserve.domain.ensemble import EnsembleSpec, Vote, average, decide
from actorserve.domain.errors import ConfigError
from actorserve.domain.predictions import NO_PREDICTION, canonical, plain, prediction, vote_key
from actorserve.domain.routing import Candidate, rendezvous_choice
from actorserve.domain.shadow import ShadowStats, outputs_agree

SURROGATE = "\ud800"
KEYS = [f"user-{i}" for i in range(200)] + ["", "é", "日本語", "emoji 🙂", "\x00"]
CANDIDATES = [Candidate(f"v{i}", datetime(2024, 1, 1, tzinfo=UTC)) for i in range(3)]


class _DuckArray:
    """Quacks like a numpy array: equality is element-wise and has no truth value; tolist() gives lists."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def tolist(self) -> list[float]:
        return list(self.values)

    def __eq__(self, other: object) -> bool:
        raise ValueError("The truth value of an array with more than one element is ambiguous")

    __hash__ = object.__hash__


# --- D1 / D2: keys hash whatever string they are --------------------------------------


def _strict_rendezvous(key: str) -> str:
    """The assignment before the fix (strict UTF-8), for keys it could hash."""

    def unit(version_id: str) -> float:
        digest = hashlib.blake2b(f"{key}\x00{version_id}".encode(), digest_size=8).digest()
        return (int.from_bytes(digest, "big") + 1) / (2**64 + 1)

    return max(CANDIDATES, key=lambda c: -1.0 / math.log(unit(c.version_id))).version_id


def test_a_lone_surrogate_key_is_pinned_to_one_version() -> None:
    chosen = {rendezvous_choice(CANDIDATES, SURROGATE).version_id for _ in range(3)}
    assert len(chosen) == 1
    assert rendezvous_choice(CANDIDATES, f"user{SURROGATE}x", {"v0": 1.0, "v1": 2.0}).version_id in {"v0", "v1"}


def test_ordinary_keys_keep_the_version_they_were_assigned_before() -> None:
    assert [rendezvous_choice(CANDIDATES, k).version_id for k in KEYS] == [_strict_rendezvous(k) for k in KEYS]


def test_a_lone_surrogate_key_is_assigned_one_ab_arm() -> None:
    spec = ABTestSpec(test_id="t", arms=("a", "b"), weights=(1.0, 1.0))
    assert {assign(spec, SURROGATE, draw) for draw in (0.0, 0.5, 0.99)} in ({0}, {1})


def test_ordinary_keys_keep_their_ab_arm() -> None:
    spec = ABTestSpec(test_id="t", arms=("a", "b", "c"), weights=(1.0, 2.0, 1.0))

    def strict(key: str) -> int:
        digest = hashlib.blake2b(f"t\x00{key}".encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64
        return 0 if point < 0.25 else 1 if point < 0.75 else 2

    assert [assign(spec, k, 0.0) for k in KEYS] == [strict(k) for k in KEYS]


# --- predictions: what a vote looks at ------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"label": "cat", "score": 0.9, "model": "m"}, "cat"),
        ({"predict": [1, 0], "predict_proba": [[0.1, 0.9]]}, [1, 0]),
        ({"text": "hi", "model": "chat", "version": "2.0.0"}, "hi"),
        ({"output": 3, "result": 4}, 3),
        ({"result": "processed", "model": "m"}, "processed"),
        (
            {"embedding": [0.5], "model": "m", "version": "1", "id": "x", "created": 1, "latency_ms": 3.0},
            {"embedding": [0.5]},
        ),
        ("plain text", "plain text"),
    ],
)
def test_the_prediction_is_the_first_prediction_field_or_the_output_without_identity(
    output: object, expected: object
) -> None:
    assert prediction(output) == expected


def test_vote_on_picks_a_dotted_path_of_keys_and_indices() -> None:
    output = {"choices": [{"text": "a"}, {"text": "b"}], "model": "m"}
    assert prediction(output, "choices.1.text") == "b"
    assert prediction(output, "choices.-1.text") == "b"
    assert prediction(output, "choices.2.text") is NO_PREDICTION
    assert prediction(output, "missing") is NO_PREDICTION
    assert vote_key(output, "missing") is None


def test_plain_turns_numpy_like_values_into_python_values_without_numpy() -> None:
    assert plain({"a": _DuckArray([1.0, 2.0]), "b": (_DuckArray([3.0]),)}) == {"a": [1.0, 2.0], "b": ([3.0],)}
    assert plain({"x": np.array([[1, 2]]), "y": np.float32(0.5), np.int64(1): np.bool_(True)}) == {
        "x": [[1, 2]],
        "y": 0.5,
        1: True,
    }
    assert type(plain(np.int64(3))) is int


def test_vote_keys_are_total_over_mixed_key_types_and_distinguish_types() -> None:
    mixed = {1: "one", "two": 2, (3, 4): None, None: [SURROGATE]}
    assert vote_key(mixed) == vote_key(dict(reversed(list(mixed.items()))))
    assert canonical({1: "x"}) != canonical({"1": "x"})
    assert canonical(1) != canonical(True)
    assert canonical([1, 2]) == canonical((1, 2))
    assert vote_key({"label": np.int64(2)}) == vote_key({"label": 2, "version": "9"})


# --- ensembles --------------------------------------------------------------------


def _simulated(version: str, text: str = "Generated response for: hi") -> Vote:
    return Vote(True, {"text": text, "model": "chat", "version": version})


@pytest.mark.parametrize("method", ["voting", "weighted_voting"])
def test_versions_of_one_model_that_predict_the_same_reach_the_quorum(method: str) -> None:
    spec = EnsembleSpec(("v1", "v2", "v3"), method, (1.0, 2.0, 1.0) if method == "weighted_voting" else ())
    decision = decide(spec, [_simulated("1.0.0"), _simulated("2.0.0"), None])
    assert decision is not None
    assert decision.error is None
    assert decision.agreeing == (0, 1)
    assert decision.output == {"text": "Generated response for: hi", "model": "chat", "version": "1.0.0"}


def test_voting_follows_the_prediction_when_versions_disagree() -> None:
    spec = EnsembleSpec(("v1", "v2", "v3"))
    votes = [_simulated("1", "yes"), _simulated("2", "no"), _simulated("3", "no")]
    decision = decide(spec, votes)
    assert decision is not None
    assert decision.agreeing == (1, 2)


def test_a_member_with_nothing_at_vote_on_abstains() -> None:
    spec = EnsembleSpec(("v1", "v2", "v3"), vote_on="label")
    votes = [Vote(True, {"label": "cat"}), Vote(True, {"other": 1}), Vote(True, {"label": "cat"})]
    decision = decide(spec, votes)
    assert decision is not None
    assert decision.agreeing == (0, 2)
    no_quorum = decide(spec, [Vote(True, {"x": 1}), Vote(True, {"x": 1}), Vote(True, {"label": "cat"})])
    assert no_quorum is not None
    assert no_quorum.error is not None and no_quorum.error.startswith("Quorum not reached")


def test_outputs_with_mixed_key_types_are_voted_and_averaged() -> None:
    output = {1: 0.5, "b": 1.5, (2, 3): "same"}
    spec = EnsembleSpec(("v1", "v2"))
    decision = decide(spec, [Vote(True, output), Vote(True, dict(output))])
    assert decision is not None
    assert decision.error is None
    assert average([output, {1: 1.5, "b": 0.5, (2, 3): "same"}], [1.0, 1.0]) == {1: 1.0, "b": 1.0, (2, 3): "same"}


def test_numpy_outputs_are_averaged_as_numbers() -> None:
    spec = EnsembleSpec(("v1", "v2"), "averaging")
    decision = decide(spec, [Vote(True, np.array([1.0, 3.0])), Vote(True, np.array([3.0, 5.0]))])
    assert decision is not None
    assert decision.output == [2.0, 4.0]


@pytest.mark.parametrize("vote_on", ["", "  ", "a..b", ".a", 3])
def test_an_unusable_vote_on_is_refused_naming_the_field(vote_on: object) -> None:
    with pytest.raises(ConfigError, match="^vote_on") as caught:
        EnsembleSpec(("v1", "v2"), vote_on=vote_on)  # type: ignore[arg-type]
    assert caught.value.field == "vote_on"


def test_ensemble_config_gains_vote_on_as_its_last_field() -> None:
    fields = [f.name for f in dataclasses.fields(EnsembleConfig)]
    assert fields[-1] == "vote_on"
    assert fields[:-1] == ["ensemble_id", "model_versions", "aggregation_method", "weights", "min_agreements"]
    assert EnsembleConfig("e", ["a", "b"]).vote_on is None


# --- shadows ----------------------------------------------------------------------


def _side(output: object, latency: float = 1.0) -> dict[str, object]:
    return {"success": True, "output": output, "latency_ms": latency, "error_code": None}


def test_numpy_outputs_agree_within_tolerance() -> None:
    assert outputs_agree(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), rel_tol=1e-6, abs_tol=0.0)
    assert not outputs_agree(np.array([1.0, 2.0]), np.array([1.0, 2.1]), rel_tol=1e-6, abs_tol=0.0)
    assert outputs_agree(np.float32(0.5), 0.5, rel_tol=0.0, abs_tol=0.0)
    assert outputs_agree({"p": np.int64(1)}, {"p": 1}, rel_tol=0.0, abs_tol=0.0)


def test_a_shadow_records_numpy_outputs_as_agreeing() -> None:
    stats = ShadowStats()
    stats.record(
        _side({"scores": np.array([0.1, 0.9])}),
        _side({"scores": np.array([0.1, 0.9])}),
        rel_tol=1e-6,
        abs_tol=1e-9,
        at="t",
    )
    stats.record(_side(np.array([1, 2])), _side(np.array([1, 2])), rel_tol=1e-6, abs_tol=1e-9, at="t")
    report = stats.report()
    assert report["agreement_rate"] == 1.0
    assert report["comparison_errors"] == 0


def test_a_comparison_that_raises_counts_as_an_error_and_a_disagreement() -> None:
    class Broken:
        def tolist(self) -> object:
            raise RuntimeError("device lost")

    stats = ShadowStats()
    stats.record(_side(Broken()), _side(Broken()), rel_tol=1e-6, abs_tol=1e-9, at="t")
    report = stats.report()
    assert report["comparisons_count"] == 1
    assert report["comparison_errors"] == 1
    assert report["agreement_rate"] == 0.0


def test_a_shadow_compares_predictions_not_version_names() -> None:
    stats = ShadowStats()
    stats.record(
        _side({"text": "hi", "model": "chat", "version": "1"}),
        _side({"text": "hi", "model": "chat", "version": "2"}),
        rel_tol=1e-6,
        abs_tol=1e-9,
        at="t",
    )
    stats.record(
        _side({"label": "a", "x": 1}), _side({"label": "b", "x": 1}), rel_tol=0, abs_tol=0, at="t", vote_on="x"
    )
    assert stats.report()["agreement_rate"] == 1.0
