"""The request path of `ServingRuntime`: validate, send to the router or an experiment, wait for the one answer.

A mixin so the runtime module keeps to start-up, control calls and shutdown;
the attributes it reads are set by `ServingRuntime.__init__`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pykka

from actorserve.actors.experiments.base import ServeExperiment
from actorserve.actors.messages import Route
from actorserve.actors.reply import AsyncReply, Reply, SyncReply
from actorserve.actors.requests import RequestIds, check_request, failed_response
from actorserve.domain.entities import ModelRequest, ModelResponse
from actorserve.domain.enums import ErrorCode
from actorserve.domain.ports import Clock

__all__ = ["GRACE_S", "RequestPath"]

GRACE_S = 0.25
"""How long a caller waits past its deadline for the version's own TIMEOUT answer."""


class RequestPath:
    """`serve`, `aserve`, `submit` and `await_reply`: thread-safe, never raise for model errors."""

    _clock: Clock
    _closed: bool
    _next_id: RequestIds
    _router: pykka.ActorRef[Any]
    _max_timeout_ms: float

    def _failed(
        self, request_id: str, model_name: object, version_id: object, started: float, code: ErrorCode, error: str
    ) -> ModelResponse:
        return failed_response(
            self._clock,
            request_id=request_id,
            model_id=model_name,
            version_id=version_id,
            started_at=started,
            code=code,
            error=error,
        )

    def _submit(
        self,
        reply: Reply[ModelResponse],
        model_name: str,
        input_data: dict[str, object],
        version_id: str | None,
        parameters: dict[str, object] | None,
        timeout_ms: float | None,
        key: str | None,
        started: float,
        *,
        experiment: pykka.ActorRef[Any] | bool | None = False,
    ) -> tuple[float, str]:
        """Validate and send one request; returns the caller's wait budget in seconds and the request id.

        The request goes to the router, or with `experiment` to that
        experiment actor (None: an unknown experiment, answered NOT_FOUND).
        Any early answer (invalid input, stopped runtime) is set on `reply`.
        """
        request_id = self._next_id()
        problem = check_request(model_name, input_data, version_id, parameters, timeout_ms, key)
        if problem is not None:
            reply.set(self._failed(request_id, model_name, version_id, started, ErrorCode.INVALID_INPUT, problem))
            return 0.0, request_id
        if self._closed:
            reply.set(
                self._failed(request_id, model_name, version_id, started, ErrorCode.UNAVAILABLE, "Runtime is stopped")
            )
            return 0.0, request_id
        request = ModelRequest(
            request_id=request_id,
            model_id=model_name,
            version_id=version_id or "",
            input_data=input_data,
            parameters=dict(parameters) if parameters else {},
            key=key,
        )
        if experiment is None:
            error = f"Experiment {model_name!r} not found"
            reply.set(self._failed(request_id, model_name, model_name, started, ErrorCode.NOT_FOUND, error))
            return 0.0, request_id
        try:
            if isinstance(experiment, bool):
                self._router.tell(Route(request, reply, started, timeout_ms, version_id, key))
            else:
                experiment.tell(ServeExperiment(request, reply, started, timeout_ms, key))
        except pykka.ActorDeadError:
            reply.set(
                self._failed(request_id, model_name, version_id, started, ErrorCode.UNAVAILABLE, "Runtime is stopped")
            )
            return 0.0, request_id
        return (timeout_ms if timeout_ms is not None else self._max_timeout_ms) / 1000.0 + GRACE_S, request_id

    def serve(
        self,
        model_name: str,
        input_data: dict[str, object],
        *,
        version_id: str | None = None,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """Serve one request and block until its one response (never raises for model errors).

        Args:
            model_name: the model; routed to a READY version by its routing rule.
            input_data: the model input (a dict).
            version_id: pin a specific version instead of routing.
            parameters: per-request parameters passed to the invoker.
            timeout_ms: deadline from now; default: the chosen version's `timeout_ms`.
            key: a sticky-routing key (same key, same version while it is READY).
        """
        return self._serve_sync(model_name, input_data, version_id, parameters, timeout_ms, key)

    def _serve_via(
        self,
        experiment: pykka.ActorRef[Any] | None,
        experiment_id: str,
        input_data: dict[str, object],
        parameters: dict[str, object] | None,
        timeout_ms: float | None,
        key: str | None,
    ) -> ModelResponse:
        """Serve through an experiment actor (None: unknown experiment)."""
        return self._serve_sync(experiment_id, input_data, None, parameters, timeout_ms, key, experiment=experiment)

    def _serve_sync(
        self,
        model_name: str,
        input_data: dict[str, object],
        version_id: str | None,
        parameters: dict[str, object] | None,
        timeout_ms: float | None,
        key: str | None,
        *,
        experiment: pykka.ActorRef[Any] | bool | None = False,
    ) -> ModelResponse:
        started = self._clock.monotonic()
        reply: SyncReply[ModelResponse] = SyncReply()
        budget, request_id = self._submit(
            reply, model_name, input_data, version_id, parameters, timeout_ms, key, started, experiment=experiment
        )
        if not reply.done and not reply.wait(started + budget - self._clock.monotonic()):
            error = "No answer before the deadline"
            reply.set(self._failed(request_id, model_name, version_id, started, ErrorCode.TIMEOUT, error))
        return reply.value()

    def submit(
        self,
        model_name: str,
        input_data: dict[str, object],
        reply: Reply[ModelResponse],
        *,
        version_id: str | None = None,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> str:
        """Send one request without waiting; its one answer completes `reply`.

        For callers that fan out or fire and forget (ensembles, shadows).
        Returns the request id.
        """
        started = self._clock.monotonic()
        return self._submit(reply, model_name, input_data, version_id, parameters, timeout_ms, key, started)[1]

    def await_reply(self, reply: SyncReply[ModelResponse], budget_s: float | None = None) -> ModelResponse:
        """Wait for a `submit`ted request's answer; TIMEOUT after the budget."""
        budget = budget_s if budget_s is not None else self._max_timeout_ms / 1000.0 + GRACE_S
        if not reply.wait(budget):
            reply.set(
                self._failed(
                    "", "unknown", None, self._clock.monotonic(), ErrorCode.TIMEOUT, "No answer before the deadline"
                )
            )
        return reply.value()

    async def aserve(
        self,
        model_name: str,
        input_data: dict[str, object],
        *,
        version_id: str | None = None,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """`serve` for asyncio: awaits the response without blocking the event loop.

        Cancelling the awaiting task answers the request CANCELLED, so a version
        that has not started it yet never will.
        """
        return await self._aserve_via(False, model_name, input_data, parameters, timeout_ms, key, version_id)

    async def _aserve_via(
        self,
        experiment: pykka.ActorRef[Any] | bool | None,
        model_name: str,
        input_data: dict[str, object],
        parameters: dict[str, object] | None,
        timeout_ms: float | None,
        key: str | None,
        version_id: str | None = None,
    ) -> ModelResponse:
        loop = asyncio.get_running_loop()
        started = self._clock.monotonic()
        reply: AsyncReply[ModelResponse] = AsyncReply(loop)
        budget, request_id = self._submit(
            reply, model_name, input_data, version_id, parameters, timeout_ms, key, started, experiment=experiment
        )
        if reply.done:
            return reply.value()

        def expire() -> None:
            error = "No answer before the deadline"
            reply.set(self._failed(request_id, model_name, version_id, started, ErrorCode.TIMEOUT, error))

        timer = loop.call_later(max(started + budget - self._clock.monotonic(), 0.0), expire)
        try:
            return await reply.future
        except asyncio.CancelledError:
            reply.set(
                self._failed(request_id, model_name, version_id, started, ErrorCode.CANCELLED, "Caller cancelled")
            )
            raise
        finally:
            timer.cancel()
