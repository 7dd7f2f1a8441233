"""Ensemble aggregation and the decision of when an ensemble has its answer.

`decide` is called each time a member answers; it returns None while the
result can still change, so the ensemble answers as soon as it is decided.
Votes are cast on each output's prediction (`domain.predictions.vote_key`),
not on the whole output: versions of one model name themselves differently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import ConfigError
from actorserve.domain.predictions import canonical, check_vote_on, plain, vote_key

__all__ = ["METHODS", "Decision", "EnsembleSpec", "Vote", "average", "decide"]

METHODS = ("voting", "weighted_voting", "averaging", "weighted_averaging", "first_success")


@dataclass(frozen=True, slots=True)
class EnsembleSpec:
    """Members, how their outputs combine, and the quorum.

    Attributes:
        members: version ids.
        method: one of `METHODS`.
        weights: one per member (empty: all 1).
        min_agreements: the quorum.
        vote_on: what voting compares: a key or dotted path into each output
            (`"label"`, `"choices.0.text"`); None: the prediction by the
            default rule of `domain.predictions.prediction`. A member whose
            output has nothing there abstains.
    """

    members: tuple[str, ...]
    method: str = "voting"
    weights: tuple[float, ...] = ()
    min_agreements: int = 2
    vote_on: str | None = None

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise ConfigError(
                f"model_versions: an ensemble needs at least 2 members (got {len(self.members)})",
                field="model_versions",
            )
        if len(set(self.members)) != len(self.members):
            raise ConfigError("model_versions: a version appears twice", field="model_versions")
        if self.method not in METHODS:
            raise ConfigError(
                f"aggregation_method: must be one of {', '.join(METHODS)} (got {self.method!r})",
                field="aggregation_method",
            )
        if self.weights and len(self.weights) != len(self.members):
            raise ConfigError("weights: need one per member", field="weights")
        if any(not isinstance(w, int | float) or not math.isfinite(w) or w < 0 for w in self.weights) or (
            self.weights and sum(self.weights) <= 0
        ):
            raise ConfigError("weights: must be numbers >= 0 with a positive sum", field="weights")
        if not isinstance(self.min_agreements, int) or not 1 <= self.min_agreements <= len(self.members):
            count = len(self.members)
            msg = f"min_agreements: must be between 1 and the member count {count} (got {self.min_agreements!r})"
            raise ConfigError(msg, field="min_agreements")
        problem = check_vote_on(self.vote_on)
        if problem is not None:
            raise ConfigError(f"vote_on: {problem}", field="vote_on")

    def weight(self, index: int) -> float:
        """Member `index`'s weight (1 when unweighted)."""
        return self.weights[index] if self.weights else 1.0


@dataclass(frozen=True, slots=True)
class Vote:
    """One member's answer as the ensemble sees it."""

    success: bool
    output: object = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The ensemble's answer: an output, or an error with its code."""

    output: object = None
    error: str | None = None
    error_code: ErrorCode | None = None
    agreeing: tuple[int, ...] = ()


def average(outputs: Sequence[object], weights: Sequence[float]) -> object:
    """Weighted element-wise mean of numbers, equal-length lists, or dicts with the same keys.

    Raises:
        ValueError: when the outputs do not share one numeric shape.
    """
    first = outputs[0]
    total = sum(weights)
    if total <= 0:
        msg = "weights of the answering members sum to zero"
        raise ValueError(msg)
    if isinstance(first, bool) or not isinstance(first, int | float | list | tuple | dict):
        msg = f"cannot average outputs of type {type(first).__name__}"
        raise ValueError(msg)
    if isinstance(first, int | float):
        if not all(isinstance(o, int | float) and not isinstance(o, bool) for o in outputs):
            raise ValueError("cannot average outputs of different shapes")
        return math.fsum(float(o) * w for o, w in zip(outputs, weights, strict=True)) / total  # type: ignore[arg-type]
    if isinstance(first, list | tuple):
        if not all(isinstance(o, list | tuple) and len(o) == len(first) for o in outputs):
            raise ValueError("cannot average lists of different lengths")
        return [average([o[i] for o in outputs], weights) for i in range(len(first))]  # type: ignore[index]
    if not all(isinstance(o, dict) and o.keys() == first.keys() for o in outputs):
        raise ValueError("cannot average dicts with different keys")
    result: dict[str, object] = {}
    for key in first:
        values = [o[key] for o in outputs]  # type: ignore[index]
        if all(canonical(v) == canonical(values[0]) for v in values):
            result[key] = values[0]  # identical labels, model names...: keep as they are
        else:
            result[key] = average(values, weights)
    return result


def decide(spec: EnsembleSpec, votes: Sequence[Vote | None]) -> Decision | None:  # noqa: PLR0911 - one exit per rule
    """The ensemble's answer once it cannot change, else None (`votes[i]` None: not answered yet)."""
    pending = [i for i, v in enumerate(votes) if v is None]
    ok = [i for i, v in enumerate(votes) if v is not None and v.success]
    if spec.method == "first_success":
        if ok:
            return Decision(output=votes[ok[0]].output, agreeing=(ok[0],))  # type: ignore[union-attr]
        if not pending:
            return Decision(error="No ensemble member succeeded", error_code=ErrorCode.MODEL_ERROR)
        return None
    quorum = spec.min_agreements
    if len(ok) + len(pending) < quorum:
        return _no_quorum(spec, len(ok))
    if spec.method in ("averaging", "weighted_averaging"):
        if pending:
            return None
        weights = [spec.weight(i) if spec.method == "weighted_averaging" else 1.0 for i in ok]
        try:
            output = average([plain(votes[i].output) for i in ok], weights)  # type: ignore[union-attr]
        except ValueError as exc:
            return Decision(error=f"Cannot average member outputs: {exc}", error_code=ErrorCode.MODEL_ERROR)
        return Decision(output=output, agreeing=tuple(ok))
    return _decide_vote(spec, votes, ok, pending)


def _decide_vote(
    spec: EnsembleSpec, votes: Sequence[Vote | None], ok: list[int], pending: list[int]
) -> Decision | None:
    weighted = spec.method == "weighted_voting"
    groups: dict[str, list[int]] = {}
    for i in ok:
        ballot = vote_key(votes[i].output, spec.vote_on)  # type: ignore[union-attr]
        if ballot is not None:  # nothing at vote_on: the member abstains
            groups.setdefault(ballot, []).append(i)
    if not groups:
        return None if pending else _no_quorum(spec, 0)

    def weight(members: list[int]) -> float:
        return sum(spec.weight(i) for i in members) if weighted else float(len(members))

    ranked = sorted(groups.values(), key=lambda members: (-weight(members), members[0]))
    leader = ranked[0]
    runner_up = weight(ranked[1]) if len(ranked) > 1 else 0.0
    remaining = weight(pending)
    if len(leader) >= spec.min_agreements and weight(leader) > runner_up + remaining:
        return Decision(output=votes[leader[0]].output, agreeing=tuple(leader))  # type: ignore[union-attr]
    if max(len(m) for m in groups.values()) + len(pending) < spec.min_agreements:
        return _no_quorum(spec, max(len(m) for m in groups.values()))
    if pending:
        return None
    if len(leader) >= spec.min_agreements and weight(leader) > runner_up:
        return Decision(output=votes[leader[0]].output, agreeing=tuple(leader))  # type: ignore[union-attr]
    return Decision(error="Ensemble vote tied", error_code=ErrorCode.MODEL_ERROR)


def _no_quorum(spec: EnsembleSpec, agreeing: int) -> Decision:
    return Decision(
        error=f"Quorum not reached: {agreeing} of {len(spec.members)} members agree, {spec.min_agreements} needed",
        error_code=ErrorCode.MODEL_ERROR,
    )
