"""What every batching backend shares: a single request is a batch of one."""

from __future__ import annotations

from collections.abc import Sequence

from actorserve.domain.entities import ModelRequest
from actorserve.domain.ports import InvocationResult, ModelHandle

__all__ = ["BatchInvoker"]


class BatchInvoker:
    """Base of backends whose real work is `invoke_batch`; `invoke` runs a batch of one."""

    def invoke(self, handle: ModelHandle, request: ModelRequest, timeout_s: float) -> InvocationResult:
        """Run one request (worker thread)."""
        return self.invoke_batch(handle, [request], timeout_s)[0]

    def invoke_batch(
        self, handle: ModelHandle, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        """Run several requests; one result per request, in order."""
        raise NotImplementedError
