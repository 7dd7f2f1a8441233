"""Benchmark models as `ModelInvoker`s: zero work, 5 ms of I/O, and a vectorised matmul."""

from __future__ import annotations

import time
from collections.abc import Sequence

from actorserve.domain import InvocationResult, ModelRequest, ModelVersion

_RESULT = InvocationResult(output=1)


class ZeroWork:
    """Returns at once: what is left is pure serving overhead."""

    def load(self, version: ModelVersion) -> object:
        return object()

    def invoke(self, handle: object, request: ModelRequest, timeout_s: float) -> InvocationResult:
        return _RESULT

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> list[InvocationResult]:
        return [_RESULT] * len(requests)

    def unload(self, handle: object) -> None:
        pass

    def health(self, handle: object) -> bool:
        return True

    def close(self) -> None:
        pass


class SleepIO(ZeroWork):
    """`time.sleep(seconds)` per call: I/O-bound work that releases the GIL (a remote model)."""

    def __init__(self, seconds: float = 0.005) -> None:
        self.seconds = seconds

    def invoke(self, handle: object, request: ModelRequest, timeout_s: float) -> InvocationResult:
        time.sleep(self.seconds)
        return _RESULT

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> list[InvocationResult]:
        time.sleep(self.seconds)
        return [_RESULT] * len(requests)


class Matmul(ZeroWork):
    """A dense layer, `x @ W` with W of `dim` x `dim`: one row per request, batches stack rows.

    Reading W dominates a single row (64 MiB at dim 4096), so a batch of 32
    costs little more than one: the case dynamic batching exists for.
    """

    def __init__(self, dim: int = 1024, seed: int = 0) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self._w = rng.standard_normal((dim, dim), dtype=np.float32)
        self._rows = rng.standard_normal((256, dim), dtype=np.float32)

    def _row(self, request: ModelRequest) -> int:
        i = request.input_data.get("i", 0)
        return int(i) % 256 if isinstance(i, int) else 0

    def invoke(self, handle: object, request: ModelRequest, timeout_s: float) -> InvocationResult:
        y = self._rows[self._row(request)] @ self._w
        return InvocationResult(output=float(y[0]))

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> list[InvocationResult]:
        x = self._rows[[self._row(r) for r in requests]]
        y = x @ self._w
        return [InvocationResult(output=float(v)) for v in y[:, 0]]


MODELS = {"zero": ZeroWork, "sleep5ms": SleepIO, "matmul": Matmul}
