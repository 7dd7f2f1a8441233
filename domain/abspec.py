"""An A/B(/n) test's spec and its sticky assignment, as pure data.

Arm 0 is the control ("A"). `domain.abtest` analyses the arms' tallies
(`domain.abarms`) against this spec.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from actorserve.domain.errors import ConfigError

__all__ = ["BUILTIN_METRICS", "CONCLUDE_MODES", "RATE_METRICS", "SRM_ALPHA", "ABTestSpec", "arm_label", "assign"]

BUILTIN_METRICS = ("success_rate", "error_rate", "latency", "cost")
RATE_METRICS = ("success_rate", "error_rate")
CONCLUDE_MODES = ("never", "stop", "promote")
_LOWER_IS_BETTER = frozenset({"error_rate", "latency", "cost"})
SRM_ALPHA = 0.001
"""Below this p-value the observed split is too far from the configured one to trust."""


def arm_label(index: int) -> str:
    """The label of arm `index`: A, B, C, ..."""
    return chr(ord("A") + index) if index < 26 else f"arm{index}"


def _unit(text: str) -> float:
    # surrogatepass: any string hashes (a key decoded with surrogateescape too), and every
    # other string encodes exactly as strict UTF-8 did, so sticky assignments stay put
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class ABTestSpec:
    """What an A/B test compares and how it decides.

    Attributes:
        test_id: the test's id (part of the sticky hash, so keys stay put across restarts).
        arms: version ids; arm 0 is the control.
        weights: traffic share per arm (any positive scale).
        success_metric: `success_rate`, `error_rate`, `latency`, `cost`, or a custom metric name.
        alpha: family-wise significance level over the comparisons with the control (Holm's step-down;
            intervals at alpha / (arms - 1)).
        min_samples: answered requests (or outcomes, for custom metrics) each arm needs; the
            sequential test's first look waits for them too.
        duration_s: after this, assignment stops and results freeze (None: no end).
        higher_is_better: for custom metrics, whether larger values win.
        sequential: whether the always-valid (mixture SPRT) test decides; False: the fixed-horizon one.
        tau: the mixing standard deviation of the mixture SPRT, in the metric's units (None: from `mde`,
            else tuned to the first look).
        mde: the minimum detectable effect, absolute, in the metric's units (a rate difference for
            rates, so in (0, 1)); it sets tau when tau is not given, the planning figures, and futility.
        power: the power the mde is planned with.
        conclude: "never" (report only), "stop" (end the test once the sequential test decides), or
            "promote" (stop, then ramp the winner over the control through a canary).
        covariates: pre-period covariate per key, for CUPED.
    """

    test_id: str
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    success_metric: str = "success_rate"
    alpha: float = 0.05
    min_samples: int = 100
    duration_s: float | None = None
    higher_is_better: bool = True
    sequential: bool = True
    tau: float | None = None
    mde: float | None = None
    power: float = 0.8
    conclude: str = "never"
    covariates: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.test_id, str) or not self.test_id.strip():
            raise ConfigError(f"test_id: must be a non-empty string (got {self.test_id!r})", field="test_id")
        self._check_arms()
        if not isinstance(self.success_metric, str) or not self.success_metric.strip():
            raise ConfigError("success_metric: must be a metric name", field="success_metric")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha: must be between 0 and 1 (got {self.alpha!r})", field="alpha")
        if not isinstance(self.min_samples, int) or self.min_samples < 2:
            raise ConfigError(f"min_samples: must be an integer >= 2 (got {self.min_samples!r})", field="min_samples")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ConfigError(f"duration_s: must be > 0 or None (got {self.duration_s!r})", field="duration_s")
        self._check_sequential()

    def _check_sequential(self) -> None:
        if not isinstance(self.sequential, bool):
            raise ConfigError(f"sequential: must be true or false (got {self.sequential!r})", field="sequential")
        if self.tau is not None and not (_is_number(self.tau) and self.tau > 0):
            raise ConfigError(f"tau: must be a finite number > 0 or None (got {self.tau!r})", field="tau")
        if self.mde is not None:
            rate = self.success_metric in RATE_METRICS
            if not (_is_number(self.mde) and self.mde > 0 and (self.mde < 1 or not rate)):
                within = "between 0 and 1 (exclusive) for a rate" if rate else "a finite number > 0"
                raise ConfigError(f"mde: must be {within} (got {self.mde!r})", field="mde")
        if not (_is_number(self.power) and 0 < self.power < 1):
            raise ConfigError(f"power: must be between 0 and 1 (got {self.power!r})", field="power")
        if self.conclude not in CONCLUDE_MODES:
            modes = ", ".join(CONCLUDE_MODES)
            raise ConfigError(f"conclude: must be one of {modes} (got {self.conclude!r})", field="conclude")
        if self.conclude != "never" and not self.sequential:
            raise ConfigError("conclude: auto-conclusion needs sequential=True", field="conclude")
        if not isinstance(self.covariates, Mapping):
            raise ConfigError(f"covariates: must map keys to numbers (got {self.covariates!r})", field="covariates")
        for key, value in self.covariates.items():
            if not isinstance(key, str) or not _is_number(value):
                msg = f"covariates: {key!r} must map to a finite number (got {value!r})"
                raise ConfigError(msg, field="covariates")

    def _check_arms(self) -> None:
        if len(self.arms) < 2:
            raise ConfigError(f"arms: an A/B test needs at least 2 versions (got {len(self.arms)})", field="arms")
        for vid in self.arms:
            if not isinstance(vid, str) or not vid.strip():
                raise ConfigError(f"arms: version ids must be non-empty strings (got {vid!r})", field="arms")
        if len(set(self.arms)) != len(self.arms):
            raise ConfigError("arms: the same version appears twice (A and B must differ)", field="arms")
        if len(self.weights) != len(self.arms):
            raise ConfigError(f"weights: need one per arm ({len(self.arms)}), got {len(self.weights)}", field="weights")
        for w in self.weights:
            if not isinstance(w, int | float) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
                raise ConfigError(f"weights: must be numbers >= 0 (got {w!r})", field="weights")
        if sum(self.weights) <= 0:
            raise ConfigError("weights: must sum to a positive number", field="weights")

    def lower_is_better(self, metric: str) -> bool:
        """Direction of `metric`."""
        return metric in _LOWER_IS_BETTER if metric in BUILTIN_METRICS else not self.higher_is_better


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def assign(spec: ABTestSpec, key: str | None, draw: float) -> int:
    """The arm for one request: by `key` (sticky hash) when given, else by the uniform `draw`."""
    point = _unit(f"{spec.test_id}\x00{key}") if key is not None else draw
    total = sum(spec.weights)
    cumulative = 0.0
    for index, weight in enumerate(spec.weights):
        cumulative += weight / total
        if point < cumulative and weight > 0:
            return index
    return max(i for i, w in enumerate(spec.weights) if w > 0)
