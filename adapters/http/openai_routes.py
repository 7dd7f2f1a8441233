"""OpenAI-compatible routes at `/v1`: models, chat completions, completions, embeddings.

`model` may be a model name, a `model@version` pin, or an experiment id. The
sticky key is the `x-actorserve-key` header, else the `user` field. Sampling
fields (`max_tokens`, `temperature`, `top_p`, `stop`, `seed`, ...) go to the
backend as request parameters. `stream: true` is refused with a 400 until the
runtime can stream. Errors are `{"error": {message, type, param, code}}` with
the status and type from `errors.OPENAI_ERRORS`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actorserve.adapters.http.body import read_json, request_timeout, text_field
from actorserve.adapters.http.errors import Fault, HttpError, Protocol, failure_of, guarded
from actorserve.adapters.http.front import KEY_HEADER, Front, Target, version_headers
from actorserve.adapters.simulated import estimate_tokens
from actorserve.domain.entities import ModelResponse
from actorserve.domain.enums import ErrorCode

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["OpenAIRoutes"]

_SAMPLING = (
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "logit_bias",
    "response_format",
    "tools",
    "tool_choice",
)


class OpenAIRoutes:
    """The OpenAI-compatible endpoints of one app.

    Args:
        front: the runtime and options the routes share.
    """

    def __init__(self, front: Front) -> None:
        self.front = front

    def routes(self) -> list[Route]:
        """Every `/v1` route, each answering failures in the OpenAI format."""
        return [
            Route("/v1/models", guarded(Protocol.OPENAI, self.models)),
            Route("/v1/chat/completions", guarded(Protocol.OPENAI, self.chat), methods=["POST"]),
            Route("/v1/completions", guarded(Protocol.OPENAI, self.completions), methods=["POST"]),
            Route("/v1/embeddings", guarded(Protocol.OPENAI, self.embeddings), methods=["POST"]),
        ]

    async def models(self, request: Request) -> Response:
        """`GET /v1/models`: every model with a version, then every running experiment."""
        names = dict.fromkeys(v.model_name for v in await self.front.versions())
        names.update(dict.fromkeys(self.front.runtime.experiments.list()))
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "actorserve"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    async def _request(self, request: Request) -> tuple[dict[str, object], Target, dict[str, Any]]:
        """The body, the target its `model` names, and the keywords for `Front.serve`."""
        body = await read_json(request, self.front.options.max_body_bytes)
        if body.get("stream"):
            msg = "stream: streaming is not supported yet; send stream=false"
            raise HttpError(Fault.UNSUPPORTED, msg, param="stream")
        name = text_field(body, "model")
        assert name is not None
        user = body.get("user")
        if user is not None and not isinstance(user, str):
            raise HttpError(Fault.SCHEMA, f"user: must be a string (got {user!r})", param="user")
        options = {
            "parameters": {k: body[k] for k in _SAMPLING if body.get(k) is not None} or None,
            "timeout_ms": request_timeout(request, body.get("timeout_ms")),
            "key": request.headers.get(KEY_HEADER) or user,
        }
        return body, self.front.target(name), options

    async def _serve(
        self, request: Request, target: Target, data: dict[str, object], options: dict[str, Any]
    ) -> tuple[ModelResponse, dict[str, str]]:
        answer = await self.front.serve(request, target, data, **options)
        headers = version_headers(answer)
        if not answer.success:
            raise failure_of(answer, headers)
        return answer, headers

    async def chat(self, request: Request) -> Response:
        """`POST /v1/chat/completions`."""
        body, target, options = await self._request(request)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HttpError(Fault.SCHEMA, "messages: must be a non-empty list", param="messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
                raise HttpError(Fault.SCHEMA, f"messages[{i}]: needs a role and content", param=f"messages[{i}]")
        last = messages[-1].get("content")
        data: dict[str, object] = {"messages": messages, "prompt": last if isinstance(last, str) else str(last)}
        answer, headers = await self._serve(request, target, data, options)
        text, finish = _text(answer.output_data)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        return JSONResponse(
            _envelope(
                "chat.completion",
                "chatcmpl",
                target,
                answer,
                choices=[choice],
                usage=_usage([answer], [str(data["prompt"])]),
            ),
            headers=headers,
        )

    async def _each(
        self, request: Request, field: str
    ) -> tuple[Target, list[str], list[tuple[ModelResponse, dict[str, str]]]]:
        """The body's `field` (a string or a list of them), each served as its own request, concurrently."""
        body, target, options = await self._request(request)
        texts = _texts(body.get(field), field)
        answers = await asyncio.gather(*(self._serve(request, target, {field: t}, options) for t in texts))
        return target, texts, list(answers)

    async def completions(self, request: Request) -> Response:
        """`POST /v1/completions` (one prompt, or a list answered one choice each)."""
        target, prompts, answers = await self._each(request, "prompt")
        choices = []
        for i, (answer, _) in enumerate(answers):
            text, finish = _text(answer.output_data)
            choices.append({"index": i, "text": text, "finish_reason": finish, "logprobs": None})
        first, headers = answers[0]
        usage = _usage([a for a, _ in answers], prompts)
        return JSONResponse(
            _envelope("text_completion", "cmpl", target, first, choices=choices, usage=usage), headers=headers
        )

    async def embeddings(self, request: Request) -> Response:
        """`POST /v1/embeddings` (one input, or a list: one request each, batched by the version)."""
        target, texts, answers = await self._each(request, "input")
        data = []
        for i, (answer, _) in enumerate(answers):
            data.append({"object": "embedding", "index": i, "embedding": _vector(answer)})
        total = sum(a.tokens_used for a, _ in answers) or sum(estimate_tokens(t) for t in texts)
        reply = {
            "object": "list",
            "data": data,
            "model": target.name,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }
        return JSONResponse(reply, headers=answers[0][1])


def _texts(value: object, field: str) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise HttpError(Fault.SCHEMA, f"{field}: must be a string or a non-empty list of strings", param=field)
    return texts


def _text(output: object) -> tuple[str, str]:
    """The generated text and finish reason of a backend's output (`{"text", "finish_reason"}` or plain)."""
    if isinstance(output, dict):
        text = output.get("text", output.get("output", output.get("content")))
        finish = output.get("finish_reason") or "stop"
        return ("" if text is None else str(text)), str(finish)
    return ("" if output is None else str(output)), "stop"


def _vector(answer: ModelResponse) -> list[float]:
    output = answer.output_data
    if isinstance(output, dict):
        if isinstance(output.get("embedding"), list):
            return list(output["embedding"])
        many = output.get("embeddings")
        if isinstance(many, list) and many and isinstance(many[0], list):
            return list(many[0])
    if isinstance(output, list) and all(isinstance(x, int | float) for x in output):
        return list(output)
    raise HttpError(ErrorCode.MODEL_ERROR, "the model's output holds no embedding vector")


def _usage(answers: list[ModelResponse], prompts: list[str]) -> dict[str, int]:
    """Token counts. An answer keeps only its total (`tokens_used`): the prompt's share is estimated from its text."""
    total = sum(a.tokens_used for a in answers)
    prompt = min(total, sum(estimate_tokens(p) for p in prompts))
    return {"prompt_tokens": prompt, "completion_tokens": total - prompt, "total_tokens": total}


def _envelope(obj: str, prefix: str, target: Target, answer: ModelResponse, **fields: object) -> dict[str, object]:
    return {
        "id": f"{prefix}-{answer.request_id}",
        "object": obj,
        "created": int(time.time()),
        "model": target.name,
        **fields,
    }
