"""Canary rollouts as pure data: the spec, the per-step windows, and the gate.

A candidate takes a growing share of traffic, step by step. Each step is
held until the candidate answered `min_requests`; then its error rate and p95
latency in that step are compared with the baseline's over the whole rollout.
Passing advances (after the last step: promote); failing rolls back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from actorserve.domain.errors import ConfigError
from actorserve.domain.metrics import LatencyHistogram

__all__ = ["CanarySpec", "Gate", "Window", "evaluate"]


@dataclass(frozen=True, slots=True)
class CanarySpec:
    """How a candidate ramps up and what it must prove at each step.

    Attributes:
        baseline: the version in production now.
        candidate: the version being rolled out.
        steps: candidate traffic percentages, increasing, ending at 100.
        min_requests: candidate answers each step needs before it is judged.
        max_error_rate_increase: how far (absolute) the candidate's error rate may exceed the baseline's.
        max_p95_ratio: how many times the baseline's p95 latency the candidate's p95 may reach...
        p95_slack_ms: ...or the baseline's p95 plus this, whichever is larger (tiny latencies are noisy).
    """

    baseline: str
    candidate: str
    steps: tuple[float, ...] = (1.0, 5.0, 25.0, 50.0, 100.0)
    min_requests: int = 100
    max_error_rate_increase: float = 0.02
    max_p95_ratio: float = 1.5
    p95_slack_ms: float = 2.0

    def __post_init__(self) -> None:
        if self.baseline == self.candidate:
            raise ConfigError("candidate: must differ from the baseline", field="candidate")
        if not self.steps:
            raise ConfigError("steps: need at least one step", field="steps")
        previous = 0.0
        for step in self.steps:
            if not isinstance(step, int | float) or not math.isfinite(step) or not previous < step <= 100:
                msg = f"steps: must increase within (0, 100] (got {list(self.steps)!r})"
                raise ConfigError(msg, field="steps")
            previous = step
        if self.steps[-1] != 100:
            raise ConfigError(f"steps: the last step must be 100 (got {self.steps[-1]!r})", field="steps")
        if not isinstance(self.min_requests, int) or self.min_requests < 1:
            raise ConfigError(
                f"min_requests: must be an integer >= 1 (got {self.min_requests!r})", field="min_requests"
            )
        if not 0 <= self.max_error_rate_increase <= 1:
            raise ConfigError("max_error_rate_increase: must be between 0 and 1", field="max_error_rate_increase")
        if not self.max_p95_ratio >= 1:
            raise ConfigError(f"max_p95_ratio: must be >= 1 (got {self.max_p95_ratio!r})", field="max_p95_ratio")
        if not self.p95_slack_ms >= 0:
            raise ConfigError("p95_slack_ms: must be >= 0", field="p95_slack_ms")


@dataclass(slots=True)
class Window:
    """Answers counted for one side over some span."""

    requests: int = 0
    errors: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def record(self, *, success: bool, latency_ms: float) -> None:
        """Count one answer (latency of successful ones only)."""
        self.requests += 1
        if success:
            self.latency.record(latency_ms)
        else:
            self.errors += 1

    @property
    def error_rate(self) -> float:
        """Errors over answers (0 when none)."""
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class Gate:
    """The verdict on one step, with the numbers behind it."""

    passed: bool
    reason: str
    candidate_error_rate: float
    baseline_error_rate: float
    candidate_p95_ms: float
    baseline_p95_ms: float
    candidate_requests: int
    baseline_requests: int


def evaluate(spec: CanarySpec, candidate: Window, baseline: Window) -> Gate | None:
    """Judge the current step, or None until the candidate has `min_requests` answers."""
    if candidate.requests < spec.min_requests:
        return None
    c_err, b_err = candidate.error_rate, baseline.error_rate
    c_p95, b_p95 = candidate.latency.percentile(95), baseline.latency.percentile(95)
    limit_p95 = max(b_p95 * spec.max_p95_ratio, b_p95 + spec.p95_slack_ms)

    def gate(passed: bool, reason: str) -> Gate:
        return Gate(passed, reason, c_err, b_err, c_p95, b_p95, candidate.requests, baseline.requests)

    if c_err > b_err + spec.max_error_rate_increase:
        return gate(False, f"error rate {c_err:.2%} exceeds baseline {b_err:.2%} + {spec.max_error_rate_increase:.2%}")
    if baseline.latency.count and c_p95 > limit_p95:
        return gate(False, f"p95 {c_p95:.2f} ms exceeds the limit {limit_p95:.2f} ms (baseline p95 {b_p95:.2f} ms)")
    return gate(True, "error rate and p95 latency within limits")
