"""What the HTTP backends share: one pooled `httpx.Client` per replica, error codes, secrets kept out of text.

Status codes map to error codes the way a caller would retry them:
429 and 503 are OVERLOADED (come back later), other 5xx are MODEL_ERROR, 400
and 422 are INVALID_INPUT, 404 is NOT_FOUND, 401 and 403 are UNAVAILABLE (this
runtime cannot use the server). A timeout is TIMEOUT and a refused or dropped
connection is UNAVAILABLE. Error sentences quote the server's own message,
with every credential the handle holds replaced by `***`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actorserve.adapters.base import BatchInvoker
from actorserve.adapters.extras import missing_extra
from actorserve.adapters.params import param, secret
from actorserve.domain.entities import ModelVersion
from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import ConfigError, InvocationError
from actorserve.domain.ports import InvocationResult, ModelHandle

__all__ = ["ClientSet", "Connection", "HttpBackend", "code_for_status", "redact"]

_BODY_CHARS = 200


def code_for_status(status: int) -> ErrorCode:
    """The error code for an HTTP error status."""
    if status in (429, 503):
        return ErrorCode.OVERLOADED
    if status >= 500:
        return ErrorCode.MODEL_ERROR
    if status == 404:
        return ErrorCode.NOT_FOUND
    if status in (401, 403):
        return ErrorCode.UNAVAILABLE
    if status == 408:
        return ErrorCode.TIMEOUT
    return ErrorCode.INVALID_INPUT


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by `***`.

    Each secret is also replaced as JSON escapes it (a server may echo it
    inside a JSON string), longest first, so no piece of a longer secret
    survives the replacement of a shorter one. Redact before cutting text:
    a cut through a secret leaves a prefix that no longer matches.
    """
    forms = {form for value in secrets if value for form in (value, json.dumps(value)[1:-1])}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


class ClientSet:
    """The HTTP clients an invoker's replicas hold, so `close()` can close them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: set[Any] = set()
        self.closed = False

    def add(self, client: Any) -> None:
        """Track `client`; closes it and raises UNAVAILABLE when the set is already closed."""
        with self._lock:
            if not self.closed:
                self._clients.add(client)
                return
        client.close()
        raise InvocationError("the invoker is closed", code=ErrorCode.UNAVAILABLE)

    def drop(self, client: Any) -> None:
        """Stop tracking `client` and close it."""
        with self._lock:
            self._clients.discard(client)
        client.close()

    def close(self) -> None:
        """Close every client: later calls fail at once; a call in flight ends by its timeout."""
        with self._lock:
            self.closed = True
            clients = list(self._clients)
            self._clients.clear()
        for client in clients:
            client.close()


@dataclass(slots=True)
class Connection:
    """One replica's view of a remote model: its client, paths and the secrets to keep out of text."""

    client: Any  # httpx.Client
    model: str
    version: str | None
    secrets: tuple[str, ...] = ()

    def model_path(self, api: str) -> str:
        """`{api}/models/{model}[/versions/{version}]`, e.g. `/v2/models/iris/versions/1`."""
        return f"{api}/models/{self.model}" + (f"/versions/{self.version}" if self.version else "")


class HttpBackend(BatchInvoker):
    """Base for the JSON-over-HTTP invokers.

    Args:
        base_url: the server, when a version sets no `endpoint`.
        api_key: sent as `Authorization: Bearer ...` (a version's
            `parameters.api_key` or `api_key_env` wins). Never logged.
        max_connections: the pool size of each replica's client.
        verify: check TLS certificates.
    """

    backend = "http"
    extra = "http"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        max_connections: int = 4,
        verify: bool = True,
    ) -> None:
        try:
            import httpx
        except ImportError:
            raise missing_extra("httpx", self.extra, self.backend) from None
        if not isinstance(max_connections, int) or isinstance(max_connections, bool) or max_connections < 1:
            msg = f"max_connections: must be an integer >= 1 (got {max_connections!r})"
            raise ConfigError(msg, field="max_connections")
        self._httpx = httpx
        self._base_url = base_url
        self._api_key = api_key
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._verify = verify
        self._clients = ClientSet()

    # --- loading ---------------------------------------------------------------

    def base_url(self, version: ModelVersion) -> str:
        """The server URL for `version`.

        Raises:
            ConfigError: neither `endpoint` nor the invoker's `base_url` is set, or it is not http(s).
        """
        url = version.endpoint or self._base_url
        if not url:
            raise ConfigError("endpoint: missing (the server's URL, e.g. http://127.0.0.1:8080)", field="endpoint")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint: must start with http:// or https:// (got {url!r})", field="endpoint")
        return url.rstrip("/")

    def validate(self, version: ModelVersion) -> None:
        """Check the version's parameters (runtime.register calls this).

        Raises:
            ConfigError: naming the field.
        """
        self.base_url(version)
        param(version, "model_name", str)
        param(version, "model_version", (str, int))
        param(version, "headers", dict)
        secret(version, "api_key", "api_key_env")

    def connect(self, version: ModelVersion) -> Connection:
        """A new pooled client for one replica of `version`."""
        self.validate(version)
        key = secret(version, "api_key", "api_key_env") or self._api_key
        headers = {str(k): str(v) for k, v in dict(param(version, "headers", dict, {})).items()}  # type: ignore[call-overload]
        # the key and the headers the user gave; "Bearer <key>" is left to show as "Bearer ***"
        secrets = tuple(s for s in (key, *headers.values()) if s and len(s) >= 8)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        client = self._httpx.Client(
            base_url=self.base_url(version), headers=headers, limits=self._limits, verify=self._verify
        )
        self._clients.add(client)
        model_version = param(version, "model_version", (str, int))
        return Connection(
            client=client,
            model=str(param(version, "model_name", str, version.model_name)),
            version=None if model_version is None else str(model_version),
            secrets=secrets,
        )

    def disconnect(self, conn: Connection) -> None:
        """Close one replica's client."""
        self._clients.drop(conn.client)

    def close(self) -> None:
        """Close every client: later calls fail at once; a call in flight ends by its timeout."""
        self._clients.close()

    # --- calls -----------------------------------------------------------------

    def request(
        self, conn: Connection, method: str, path: str, timeout_s: float, body: Mapping[str, object] | None = None
    ) -> Any:
        """Send one request and return its decoded JSON body.

        Raises:
            InvocationError: with the code for the failure (see the module docstring).
        """
        response = self._send(conn, method, path, timeout_s, body)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            msg = f"{self.backend}: the server answered HTTP {response.status_code} with a body that is not JSON"
            raise InvocationError(msg, code=ErrorCode.MODEL_ERROR) from None

    def _send(
        self, conn: Connection, method: str, path: str, timeout_s: float, body: Mapping[str, object] | None
    ) -> Any:
        httpx = self._httpx
        try:
            response = conn.client.request(method, path, json=body, timeout=max(timeout_s, 0.001))
        except httpx.TimeoutException:
            msg = f"{self.backend}: no answer from the server within {timeout_s:.3g}s"
            raise InvocationError(msg, code=ErrorCode.TIMEOUT) from None
        except (httpx.TransportError, RuntimeError) as exc:  # RuntimeError: a client closed by close()
            msg = f"{self.backend}: cannot reach the server ({type(exc).__name__}: {exc})"
            raise InvocationError(redact(msg, conn.secrets), code=ErrorCode.UNAVAILABLE) from None
        if response.status_code >= 400:
            msg = f"{self.backend}: HTTP {response.status_code}: {self._error_text(response, conn.secrets)}"
            raise InvocationError(redact(msg, conn.secrets), code=code_for_status(response.status_code))
        return response

    @staticmethod
    def _error_text(response: Any, secrets: tuple[str, ...]) -> str:
        """The server's error, secrets redacted first, then cut to `_BODY_CHARS` characters."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            text = " ".join(redact(response.text, secrets).split())
            return text[:_BODY_CHARS] or redact(response.reason_phrase or "", secrets) or "no body"
        found: str | None = None
        if isinstance(body, dict):
            for key in ("error", "message", "detail"):
                value = body.get(key)
                if isinstance(value, dict):
                    value = value.get("message", value)
                if value:
                    found = str(value)
                    break
        return redact(json.dumps(body) if found is None else found, secrets)[:_BODY_CHARS]

    @staticmethod
    def shared_failure(exc: InvocationError, n: int) -> list[InvocationResult] | None:
        """How a failed joined call answers its `n` requests.

        A timeout, an unreachable or an overloaded server fails them all alike;
        any other failure may be one request's fault, so None: send each alone.
        """
        if exc.code in (ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE, ErrorCode.OVERLOADED):
            return [InvocationResult(error=str(exc), error_code=exc.code)] * n
        return None

    def unload(self, handle: ModelHandle) -> None:
        """Close the replica's client (the server keeps the model)."""
        conn = getattr(handle, "conn", None)
        if isinstance(conn, Connection):
            self.disconnect(conn)

    def ready(self, conn: Connection, path: str, timeout_s: float) -> bool:
        """True when `GET path` answers 2xx."""
        try:
            self._send(conn, "GET", path, timeout_s, None)
        except InvocationError:
            return False
        return True
