"""The request path: validate a serve call, send it to the router or an actor, wait for its one answer.

`ServingRuntime` builds one `RequestPath` and hands it to `Experiments`:
two entry points, to the router (`serve`, `aserve`, `submit`) and to an
actor such as an experiment (`serve_at`, `aserve_at`). Thread-safe; never
raises for model errors.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import uuid
from typing import Any, NamedTuple

import pykka

from actorserve.actors.experiments.base import ServeExperiment
from actorserve.actors.failures import failed_response
from actorserve.actors.messages import Route
from actorserve.actors.reply import AsyncReply, Reply, SyncReply
from actorserve.domain.config import MAX_WAIT_S
from actorserve.domain.entities import ModelRequest, ModelResponse
from actorserve.domain.enums import ErrorCode
from actorserve.domain.ports import Clock

__all__ = ["GRACE_S", "MAX_KEY_CHARS", "Call", "RequestIds", "RequestPath", "check_request"]

MAX_KEY_CHARS = 256
"""The longest sticky key taken: keys name stored per-unit statistics, whose names the stores bound."""

GRACE_S = 0.25
"""How long a caller waits past its deadline for the version's own TIMEOUT answer."""


class Call(NamedTuple):
    """One serve call's arguments, as the caller gave them (checked by `check_request` when sent)."""

    model_name: str
    input_data: dict[str, object]
    version_id: str | None = None
    parameters: dict[str, object] | None = None
    timeout_ms: float | None = None
    key: str | None = None


_UNKNOWN_CALL = Call("unknown", {})


class _Unknown:
    """The actor a request was meant for does not exist (an unknown experiment): answered NOT_FOUND."""


_UNKNOWN = _Unknown()

Target = pykka.ActorRef[Any] | _Unknown | None
"""Where `_submit` sends a request: None for the router, else that actor."""


class RequestIds:
    """UUID-shaped request ids: a random prefix per runtime and a counter (uuid4 costs 2 µs a call)."""

    def __init__(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        """The next id."""
        return f"{self._prefix}{next(self._counter):012x}"


_MAX_TIMEOUT_MS = MAX_WAIT_S * 1000.0


def _invalid(field: str, rule: str, value: object) -> str:
    shown = type(value).__name__ if isinstance(value, list | tuple | set | bytes) else repr(value)
    return f"{field}: must be {rule} (got {shown})"


def check_request(  # noqa: PLR0911 - one early return per field
    model_name: object,
    input_data: object,
    version_id: object,
    parameters: object,
    timeout_ms: object,
    key: object,
) -> str | None:
    """One line naming the first invalid argument of a serve call, or None."""
    if not isinstance(model_name, str) or not model_name.strip():
        return _invalid("model_name", "a non-empty string", model_name)
    if not isinstance(input_data, dict):
        return f"input_data: must be a dict (got {type(input_data).__name__})"
    if version_id is not None and (not isinstance(version_id, str) or not version_id.strip()):
        return _invalid("version_id", "a non-empty string or None", version_id)
    if parameters is not None and not isinstance(parameters, dict):
        return f"parameters: must be a dict or None (got {type(parameters).__name__})"
    if timeout_ms is not None and (
        not isinstance(timeout_ms, int | float)
        or isinstance(timeout_ms, bool)
        or not math.isfinite(timeout_ms)
        or not 0 < timeout_ms <= _MAX_TIMEOUT_MS
    ):
        return _invalid("timeout_ms", f"a number > 0 and <= {_MAX_TIMEOUT_MS:.0f}, or None", timeout_ms)
    if key is not None and (not isinstance(key, str) or len(key) > MAX_KEY_CHARS):
        return _invalid("key", f"a string of at most {MAX_KEY_CHARS} characters, or None", key)
    return None


class RequestPath:
    """Sends requests and waits for their answers on the callers' threads (or event loops).

    Args:
        clock: the runtime's clock.
        router: the router actor.
        ids: makes request ids.
    """

    def __init__(self, clock: Clock, router: pykka.ActorRef[Any], ids: RequestIds | None = None) -> None:
        self._clock = clock
        self._router = router
        self._next_id = ids if ids is not None else RequestIds()
        self._closed = False
        self._max_timeout_ms = 30_000.0

    # --- the runtime's control -------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once `close()` was called: every new request is answered UNAVAILABLE."""
        return self._closed

    def close(self) -> None:
        """Answer every later request UNAVAILABLE ("Runtime is stopped")."""
        self._closed = True

    def allow_timeout(self, timeout_ms: float) -> None:
        """Wait at least `timeout_ms` (plus grace) for requests that give no deadline of their own."""
        self._max_timeout_ms = max(self._max_timeout_ms, timeout_ms)

    # --- to the router ---------------------------------------------------------

    def serve(self, call: Call) -> ModelResponse:
        """Route one request and block until its one answer."""
        return self._serve(None, call)

    async def aserve(self, call: Call) -> ModelResponse:
        """`serve` for asyncio: a cancelled awaiting task answers its request CANCELLED."""
        return await self._aserve(None, call)

    def submit(self, reply: Reply[ModelResponse], call: Call) -> str:
        """Route one request without waiting; its answer completes `reply`. Returns the request id."""
        return self._submit(reply, None, call, self._clock.monotonic())[1]

    def await_reply(self, reply: SyncReply[ModelResponse], budget_s: float | None = None) -> ModelResponse:
        """Wait for a `submit`ted request's answer; TIMEOUT after the budget."""
        budget = budget_s if budget_s is not None else self._max_timeout_ms / 1000.0 + GRACE_S
        if not reply.wait(budget):
            self._fail(reply, "", _UNKNOWN_CALL, self._clock.monotonic(), ErrorCode.TIMEOUT, _NO_ANSWER)
        return reply.value()

    # --- to an actor -----------------------------------------------------------

    def serve_at(self, actor: pykka.ActorRef[Any] | None, call: Call) -> ModelResponse:
        """Serve one request through `actor` (an experiment named `call.model_name`; None: unknown, NOT_FOUND)."""
        return self._serve(_UNKNOWN if actor is None else actor, call)

    async def aserve_at(self, actor: pykka.ActorRef[Any] | None, call: Call) -> ModelResponse:
        """`serve_at` for asyncio callers."""
        return await self._aserve(_UNKNOWN if actor is None else actor, call)

    # --- internals -------------------------------------------------------------

    def _fail(
        self, reply: Reply[ModelResponse], request_id: str, call: Call, started: float, code: ErrorCode, error: str
    ) -> None:
        reply.set(
            failed_response(
                self._clock,
                request_id=request_id,
                model_id=call.model_name,
                version_id=call.version_id,
                started_at=started,
                code=code,
                error=error,
            )
        )

    def _submit(self, reply: Reply[ModelResponse], target: Target, call: Call, started: float) -> tuple[float, str]:
        """Validate and send one request; returns the caller's wait budget in seconds and the request id.

        Any early answer (invalid input, stopped runtime, unknown actor) is set on `reply`.
        """
        request_id = self._next_id()
        model_name, input_data, version_id, parameters, timeout_ms, key = call
        problem = check_request(model_name, input_data, version_id, parameters, timeout_ms, key)
        if problem is not None:
            self._fail(reply, request_id, call, started, ErrorCode.INVALID_INPUT, problem)
            return 0.0, request_id
        if self._closed:
            self._fail(reply, request_id, call, started, ErrorCode.UNAVAILABLE, _STOPPED)
            return 0.0, request_id
        if isinstance(target, _Unknown):
            error = f"Experiment {model_name!r} not found"
            self._fail(reply, request_id, call._replace(version_id=model_name), started, ErrorCode.NOT_FOUND, error)
            return 0.0, request_id
        request = ModelRequest(
            request_id=request_id,
            model_id=model_name,
            version_id=version_id or "",
            input_data=input_data,
            parameters=dict(parameters) if parameters else {},
            key=key,
        )
        try:
            if target is None:
                self._router.tell(Route(request, reply, started, timeout_ms, version_id, key))
            else:
                target.tell(ServeExperiment(request, reply, started, timeout_ms, key))
        except pykka.ActorDeadError:
            self._fail(reply, request_id, call, started, ErrorCode.UNAVAILABLE, _STOPPED)
            return 0.0, request_id
        return (timeout_ms if timeout_ms is not None else self._max_timeout_ms) / 1000.0 + GRACE_S, request_id

    def _serve(self, target: Target, call: Call) -> ModelResponse:
        started = self._clock.monotonic()
        reply: SyncReply[ModelResponse] = SyncReply()
        budget, request_id = self._submit(reply, target, call, started)
        if not reply.done and not reply.wait(started + budget - self._clock.monotonic()):
            self._fail(reply, request_id, call, started, ErrorCode.TIMEOUT, _NO_ANSWER)
        return reply.value()

    async def _aserve(self, target: Target, call: Call) -> ModelResponse:
        loop = asyncio.get_running_loop()
        started = self._clock.monotonic()
        reply: AsyncReply[ModelResponse] = AsyncReply(loop)
        budget, request_id = self._submit(reply, target, call, started)
        if reply.done:
            return reply.value()

        def expire() -> None:
            self._fail(reply, request_id, call, started, ErrorCode.TIMEOUT, _NO_ANSWER)

        timer = loop.call_later(max(started + budget - self._clock.monotonic(), 0.0), expire)
        try:
            return await reply.future
        except asyncio.CancelledError:
            self._fail(reply, request_id, call, started, ErrorCode.CANCELLED, "Caller cancelled")
            raise
        finally:
            timer.cancel()


_STOPPED = "Runtime is stopped"
_NO_ANSWER = "No answer before the deadline"
