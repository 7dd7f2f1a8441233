"""Cost of a request from a price table: per-1k input/output tokens and per-second compute."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from actorserve.domain.entities import ModelVersion
from actorserve.domain.errors import ConfigError

__all__ = ["Price", "PriceTable"]

_PARAM_KEYS = {
    "price_per_1k_input_tokens": "per_1k_input_tokens",
    "price_per_1k_output_tokens": "per_1k_output_tokens",
    "price_per_second": "per_second",
}


@dataclass(frozen=True, slots=True)
class Price:
    """What one model costs, in USD."""

    per_1k_input_tokens: float = 0.0
    per_1k_output_tokens: float = 0.0
    per_second: float = 0.0

    def __post_init__(self) -> None:
        for name in ("per_1k_input_tokens", "per_1k_output_tokens", "per_second"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                msg = f"{name}: must be a number >= 0 (got {value!r})"
                raise ConfigError(msg, field=name)

    def cost(self, input_tokens: int, output_tokens: int, compute_s: float) -> float:
        """USD for one request."""
        return (
            input_tokens * self.per_1k_input_tokens / 1000.0
            + output_tokens * self.per_1k_output_tokens / 1000.0
            + max(compute_s, 0.0) * self.per_second
        )


@dataclass(frozen=True, slots=True)
class PriceTable:
    """A `CostCalculator` backed by a table of prices.

    Looks up prices by version id, then model name, then the version's
    own `parameters` (`price_per_1k_input_tokens`, `price_per_1k_output_tokens`,
    `price_per_second`), then `default`.
    """

    prices: Mapping[str, Price] = field(default_factory=dict)
    default: Price = Price()
    _memo: dict[tuple[str, int], Price] = field(default_factory=dict, compare=False, repr=False)

    def price_for(self, version: ModelVersion) -> Price:
        """The price that applies to `version` (looked up once per version object)."""
        key = (version.version_id, id(version))
        price = self._memo.get(key)
        if price is None:
            price = self._memo[key] = self._lookup(version)
        return price

    def _lookup(self, version: ModelVersion) -> Price:
        for key in (version.version_id, version.model_name):
            if key in self.prices:
                return self.prices[key]
        given = {attr: version.parameters[key] for key, attr in _PARAM_KEYS.items() if key in version.parameters}
        if given:
            try:
                return Price(**given)  # type: ignore[arg-type]
            except ConfigError as exc:
                key = f"parameters.price_{exc.field}"
                raise ConfigError(f"{key}: {str(exc).split(': ', 1)[1]}", field=key) from None
        return self.default

    def cost(
        self,
        version: ModelVersion,
        input_tokens: int,
        output_tokens: int,
        compute_s: float,
    ) -> float:
        """USD for one request served by `version`."""
        return self.price_for(version).cost(input_tokens, output_tokens, compute_s)
