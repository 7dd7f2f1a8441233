"""What every route shares: the runtime, the app's options, model-name resolution and the guarded call.

Routes run on the server's event loop. They reach the request path through
the runtime's async API (`aserve`, `experiments.aserve`), and run control
calls (health, list_versions, register, ...) in a worker thread, so no route
ever blocks the loop. A client that disconnects while its request waits cancels
the awaiting task: the runtime answers that request CANCELLED, and a version
that had not started it never will.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from actorserve.adapters.http.errors import HttpError
from actorserve.adapters.http.options import AppOptions
from actorserve.domain.entities import ModelResponse, ModelVersion
from actorserve.domain.enums import ErrorCode

if TYPE_CHECKING:
    from starlette.requests import Request

    from actorserve.actors.runtime import ServingRuntime

__all__ = ["KEY_HEADER", "VERSION_HEADER", "Front", "Target", "version_headers"]

log = logging.getLogger(__name__)

T = TypeVar("T")

KEY_HEADER = "x-actorserve-key"
"""A sticky-routing key: the same key reaches the same version while it is READY."""
VERSION_HEADER = "x-actorserve-version"
"""On every answer from a model: the version id that answered."""


def version_headers(response: ModelResponse) -> dict[str, str]:
    """`x-actorserve-version` for an answer a version gave (none when nothing was routed)."""
    known = response.version_id and response.version_id != "unknown"
    return {VERSION_HEADER: response.version_id} if known else {}


@dataclass(frozen=True, slots=True)
class Target:
    """What a model name in a URL or body means: a model, a `model@version` pin, or an experiment id."""

    name: str
    model: str
    version_id: str | None = None
    experiment: bool = False


class Front:
    """The runtime as the routes see it. One per app; used from the event loop only.

    Args:
        runtime: the runtime served; the app never starts or stops it.
        options: the checked app options.
    """

    def __init__(self, runtime: ServingRuntime, options: AppOptions) -> None:
        self.runtime = runtime
        self.options = options

    def target(self, name: str, version_id: str | None = None) -> Target:
        """Resolve a model name: an experiment id first, then `model@version`, then a model."""
        if version_id is None and self.runtime.experiments.kind(name) is not None:
            return Target(name, name, experiment=True)
        if version_id is None and "@" in name:
            model, _, pinned = name.rpartition("@")
            return Target(name, model, pinned or None)
        return Target(name, name, version_id)

    async def control(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a blocking control call of the runtime in a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args, **kwargs))

    async def versions(self, model: str | None = None) -> list[ModelVersion]:
        """The registered versions (of `model`, if given), in registration order."""
        found = await self.control(self.runtime.list_versions)
        return [v for v in found if model is None or v.model_name == model]

    async def deadline(self, target: Target, requested_ms: float | None) -> float | None:
        """The client's deadline capped by the longest `timeout_ms` of the versions that may answer."""
        if requested_ms is None:
            return None
        found = await self.versions()
        if target.version_id is not None:
            found = [v for v in found if v.version_id == target.version_id]
        elif not target.experiment:
            found = [v for v in found if v.model_name == target.model]
        if not found:
            return requested_ms
        return min(requested_ms, max(v.serving.timeout_ms for v in found))

    async def serve(
        self,
        request: Request,
        target: Target,
        input_data: dict[str, object],
        *,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """One request through the runtime (or the experiment), cancelled if the client goes away.

        Raises:
            HttpError: CANCELLED once the client has disconnected.
        """
        timeout_ms = await self.deadline(target, timeout_ms)
        rt = self.runtime
        call = (
            rt.experiments.aserve(target.name, input_data, parameters=parameters, timeout_ms=timeout_ms, key=key)
            if target.experiment
            else rt.aserve(
                target.model,
                input_data,
                version_id=target.version_id,
                parameters=parameters,
                timeout_ms=timeout_ms,
                key=key,
            )
        )
        task = asyncio.current_task()
        assert task is not None
        # One watcher per request, and the call awaited in this task: a second task and asyncio.wait
        # cost ~150 µs a request. The watcher cancels this task if the client goes first.
        watcher = asyncio.get_running_loop().create_task(_cancel_on_disconnect(request, task))
        try:
            return await call
        except asyncio.CancelledError:
            if not (watcher.done() and not watcher.cancelled() and watcher.result()):
                raise  # cancelled for another reason (the server is stopping): let it through
            task.uncancel()
            log.info("client disconnected: request for %r cancelled", target.name, extra={"event": "cancelled"})
            raise HttpError(ErrorCode.CANCELLED, "the client disconnected") from None
        finally:
            watcher.cancel()


async def _cancel_on_disconnect(request: Request, task: asyncio.Task[object]) -> bool:
    """Cancel `task` once the client has gone (the body has been read, so only a disconnect can arrive)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            task.cancel()
            return True
