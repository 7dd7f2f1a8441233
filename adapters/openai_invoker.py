"""OpenAIInvoker: chat completions and embeddings from any OpenAI-compatible server.

Calls go through the official `openai` client with `max_retries=0`: the
runtime owns retries, deadlines and overload answers, so the client must not
retry behind its back. Each call's timeout is the request's remaining
deadline. `usage` becomes the response's token counts, which the price table
turns into cost (`price_per_1k_input_tokens`, `price_per_1k_output_tokens`).

A version's `endpoint` is the base URL (`https://api.openai.com/v1`,
`http://127.0.0.1:8000/v1`, ...). Parameters: `model` (default: the model
name), `api` ("chat" or "embeddings"; default: embeddings for an embedding
model, else chat), `api_key` or `api_key_env` (default: the OPENAI_API_KEY
variable), and defaults for `temperature`, `max_tokens` and `dimensions` that
a request's own parameters override.

Chat input: `{"messages": [{"role": "user", "content": "..."}]}` or
`{"prompt": "..."}`; output `{"text", "finish_reason", "model"}`. Embedding
input: `{"input": "text" or ["text", ...]}` (or "text"); output
`{"embeddings": [[...], ...]}`. A batch of embedding requests is one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actorserve.adapters.extras import missing_extra
from actorserve.adapters.http_client import ClientSet, code_for_status, redact
from actorserve.adapters.params import param, secret
from actorserve.domain.entities import ModelRequest, ModelVersion
from actorserve.domain.enums import ErrorCode, ModelType
from actorserve.domain.errors import ConfigError, InvocationError, ModelLoadError
from actorserve.domain.ports import InvocationResult, ModelHandle

__all__ = ["OpenAIInvoker"]

_APIS = ("chat", "embeddings")
_CHAT_OPTIONS = ("temperature", "max_tokens", "top_p", "stop", "seed")
_EMBEDDING_OPTIONS = ("dimensions",)


@dataclass(slots=True)
class _Client:
    client: Any  # openai.OpenAI
    model: str
    api: str
    defaults: dict[str, object]
    secrets: tuple[str, ...]


class _InvalidInputError(ValueError):
    """A request that cannot be sent as it is."""


class OpenAIInvoker:
    """OpenAI-compatible HTTP (entry point `openai`; extra `actorserve[openai]`).

    Args:
        base_url: the server, when a version sets no `endpoint`.
        api_key: used when a version names none (then OPENAI_API_KEY). Never logged.
        max_connections: the pool size of each replica's client.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, max_connections: int = 4) -> None:
        try:
            import httpx
            import openai
        except ImportError:
            raise missing_extra("openai", "openai", "openai") from None
        if not isinstance(max_connections, int) or isinstance(max_connections, bool) or max_connections < 1:
            msg = f"max_connections: must be an integer >= 1 (got {max_connections!r})"
            raise ConfigError(msg, field="max_connections")
        self._openai = openai
        self._httpx = httpx
        self._base_url = base_url
        self._api_key = api_key
        self._max_connections = max_connections
        self._clients = ClientSet()

    def _api(self, version: ModelVersion) -> str:
        default = "embeddings" if version.model_type is ModelType.EMBEDDING_MODEL else "chat"
        api = param(version, "api", str, default)
        if api not in _APIS:
            msg = f"parameters.api: must be one of {', '.join(_APIS)} (got {api!r})"
            raise ConfigError(msg, field="parameters.api")
        return str(api)

    def validate(self, version: ModelVersion) -> None:
        """Check the version's parameters (runtime.register calls this).

        Raises:
            ConfigError: naming the field.
        """
        url = version.endpoint or self._base_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint: must start with http:// or https:// (got {url!r})", field="endpoint")
        param(version, "model", str)
        self._api(version)
        secret(version, "api_key", "api_key_env")
        for name in (*_CHAT_OPTIONS, *_EMBEDDING_OPTIONS):
            param(version, name, (int, float, str, list))

    def load(self, version: ModelVersion) -> ModelHandle:
        """Build one replica's client and check the server answers (worker thread)."""
        self.validate(version)
        openai = self._openai
        key = secret(version, "api_key", "api_key_env", "OPENAI_API_KEY") or self._api_key
        limits = self._httpx.Limits(
            max_connections=self._max_connections, max_keepalive_connections=self._max_connections
        )
        client = openai.OpenAI(
            base_url=version.endpoint or self._base_url,
            api_key=key or "not-needed",  # local servers take any key; the client insists on one
            max_retries=0,
            http_client=self._httpx.Client(limits=limits),
        )
        self._clients.add(client)
        api = self._api(version)
        options = _CHAT_OPTIONS if api == "chat" else _EMBEDDING_OPTIONS
        handle = _Client(
            client=client,
            model=str(param(version, "model", str, version.model_name)),
            api=api,
            defaults={k: version.parameters[k] for k in options if k in version.parameters},
            secrets=tuple(s for s in (key,) if s),
        )
        try:
            client.models.list(timeout=version.serving.timeout_ms / 1000.0)
        except openai.APIStatusError:
            pass  # the server answers; some compatible servers have no /models
        except openai.APIError as exc:
            self._drop(handle)
            msg = f"openai: cannot reach {client.base_url}: {redact(str(exc), handle.secrets)}"
            raise ModelLoadError(msg, version_id=version.version_id) from None
        return handle

    # --- requests --------------------------------------------------------------

    @staticmethod
    def _messages(data: dict[str, object]) -> list[dict[str, object]]:
        if "messages" in data:
            messages = data["messages"]
            if not isinstance(messages, list) or not messages:
                raise _InvalidInputError("input_data.messages: must be a non-empty list")
            for i, m in enumerate(messages):
                if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
                    raise _InvalidInputError(f"input_data.messages[{i}]: needs a role and content")
            return messages
        prompt = data.get("prompt")
        if not isinstance(prompt, str):
            raise _InvalidInputError("input_data: needs messages (a list) or prompt (a string)")
        return [{"role": "user", "content": prompt}]

    @staticmethod
    def _texts(data: dict[str, object]) -> list[str]:
        value = data.get("input", data.get("text"))
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise _InvalidInputError("input_data.input: must be a string or a non-empty list of strings")
        return texts

    def _options(self, c: _Client, request: ModelRequest) -> dict[str, object]:
        allowed = _CHAT_OPTIONS if c.api == "chat" else _EMBEDDING_OPTIONS
        return {**c.defaults, **{k: v for k, v in request.parameters.items() if k in allowed}}

    def _failure(self, c: _Client, exc: Exception) -> InvocationResult:
        openai = self._openai
        if isinstance(exc, openai.APITimeoutError):
            return InvocationResult(error="openai: no answer before the deadline", error_code=ErrorCode.TIMEOUT)
        if isinstance(exc, openai.APIConnectionError):
            text = redact(f"openai: cannot reach the server: {exc}", c.secrets)
            return InvocationResult(error=text, error_code=ErrorCode.UNAVAILABLE)
        if isinstance(exc, openai.APIStatusError):
            text = redact(f"openai: HTTP {exc.status_code}: {exc.message}", c.secrets)
            return InvocationResult(error=text, error_code=code_for_status(exc.status_code))
        if isinstance(exc, RuntimeError) and self._clients.closed:
            return InvocationResult(error="openai: the invoker is closed", error_code=ErrorCode.UNAVAILABLE)
        text = redact(f"openai: {type(exc).__name__}: {exc}", c.secrets)
        return InvocationResult(error=text, error_code=ErrorCode.MODEL_ERROR)

    def _chat(self, c: _Client, request: ModelRequest, timeout_s: float) -> InvocationResult:
        try:
            messages = self._messages(request.input_data)
        except _InvalidInputError as exc:
            return InvocationResult(error=str(exc), error_code=ErrorCode.INVALID_INPUT)
        try:
            completion = c.client.chat.completions.create(
                model=c.model, messages=messages, timeout=timeout_s, **self._options(c, request)
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes this request's coded answer
            return self._failure(c, exc)
        if not completion.choices:
            return InvocationResult(error="openai: the answer has no choices", error_code=ErrorCode.MODEL_ERROR)
        choice = completion.choices[0]
        usage = completion.usage
        return InvocationResult(
            output={
                "text": choice.message.content or "",
                "finish_reason": choice.finish_reason,
                "model": completion.model,
            },
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
        )

    def _embed(self, c: _Client, requests: Sequence[ModelRequest], timeout_s: float) -> list[InvocationResult]:
        results: list[InvocationResult | None] = [None] * len(requests)
        valid: list[tuple[int, list[str]]] = []
        for i, request in enumerate(requests):
            try:
                valid.append((i, self._texts(request.input_data)))
            except _InvalidInputError as exc:
                results[i] = InvocationResult(error=str(exc), error_code=ErrorCode.INVALID_INPUT)
        if valid:
            texts = [t for _, ts in valid for t in ts]
            try:
                answer = c.client.embeddings.create(
                    model=c.model, input=texts, timeout=timeout_s, **self._options(c, requests[valid[0][0]])
                )
                vectors = [d.embedding for d in sorted(answer.data, key=lambda d: d.index)]
                if len(vectors) != len(texts):
                    msg = f"openai: {len(vectors)} embeddings for {len(texts)} inputs"
                    raise InvocationError(msg, code=ErrorCode.MODEL_ERROR)
            except InvocationError as exc:
                failed = InvocationResult(error=str(exc), error_code=exc.code)
                for i, _ in valid:
                    results[i] = failed
            except Exception as exc:  # noqa: BLE001 - every failure becomes a coded answer
                failed = self._failure(c, exc)
                for i, _ in valid:
                    results[i] = failed
            else:
                tokens = answer.usage.prompt_tokens if answer.usage else 0
                start = 0
                for i, ts in valid:
                    share = round(tokens * len(ts) / len(texts))
                    results[i] = InvocationResult(
                        output={"embeddings": vectors[start : start + len(ts)]}, input_tokens=share
                    )
                    start += len(ts)
        return [r for r in results if r is not None]

    def invoke(self, handle: ModelHandle, request: ModelRequest, timeout_s: float) -> InvocationResult:
        """Run one request (worker thread)."""
        assert isinstance(handle, _Client)
        if handle.api == "chat":
            return self._chat(handle, request, timeout_s)
        return self._embed(handle, [request], timeout_s)[0]

    def invoke_batch(
        self, handle: ModelHandle, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        """Embeddings: one call for the batch. Chat has no batch call: one after another (worker thread)."""
        assert isinstance(handle, _Client)
        if handle.api == "chat":
            return [self._chat(handle, r, timeout_s) for r in requests]
        return self._embed(handle, requests, timeout_s)

    # --- lifecycle -------------------------------------------------------------

    def _drop(self, c: _Client) -> None:
        self._clients.drop(c.client)

    def unload(self, handle: ModelHandle) -> None:
        """Close the replica's client."""
        if isinstance(handle, _Client):
            self._drop(handle)

    def health(self, handle: ModelHandle) -> bool:
        """True when the server answers `GET /models` (any HTTP status counts as an answer)."""
        if not isinstance(handle, _Client) or self._clients.closed:
            return False
        try:
            handle.client.models.list(timeout=2.0)
        except self._openai.APIStatusError:
            return True
        except Exception:  # noqa: BLE001 - a probe's failure is its answer
            return False
        return True

    def close(self) -> None:
        """Close every client: later calls fail at once; a call in flight ends by its timeout."""
        self._clients.close()
