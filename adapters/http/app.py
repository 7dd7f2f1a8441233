"""`create_app`: the HTTP front as a Starlette app a host mounts under any prefix.

The app serves a runtime it does not own: it never starts or stops it, and
has no lifespan of its own (a mounted app's lifespan may never run). A pure
ASGI gate in front of the routes checks the bearer token (except on the
public paths) and counts every answer by route template and status.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from actorserve.adapters.http.errors import Fault, HttpError, Protocol, error_response
from actorserve.adapters.http.front import Front
from actorserve.adapters.http.metrics import HttpMetrics
from actorserve.adapters.http.openai_routes import OpenAIRoutes
from actorserve.adapters.http.options import DEFAULT_MAX_BODY_BYTES, DEFAULT_PUBLIC_PATHS, AppOptions, app_options
from actorserve.adapters.http.v2_routes import V2Routes
from actorserve.adapters.prometheus_exporter import PrometheusExporter

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from actorserve.actors.runtime import ServingRuntime

__all__ = ["create_app"]


def _protocol(path: str) -> Protocol:
    return Protocol.OPENAI if path.startswith("/v1") else Protocol.V2


def _app_path(scope: Scope) -> str:
    """The request path below the mount point."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


class _Gate:
    """Auth and HTTP metrics for every request, before routing (pure ASGI, so disconnects reach the routes)."""

    def __init__(self, app: ASGIApp, options: AppOptions, metrics: HttpMetrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.options = options
        self.metrics = metrics
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            route = next((r for r in self.routes if r.matches(scope)[0] is Match.FULL), None)
        return getattr(route, "path", None) or "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        path = _app_path(scope)
        keys = self.options.api_keys
        try:
            if keys is not None and path not in self.options.public_paths and not keys.allows(_header(scope)):
                failure = HttpError(Fault.UNAUTHORIZED, "authorization: a valid bearer token is required")
                await error_response(_protocol(path), failure)(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(self._route(scope), status, time.perf_counter() - started)


def _header(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def _not_found(request: Request, exc: Exception) -> Response:
    path = _app_path(request.scope)
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 405:
        return Response(status_code=405, headers=getattr(exc, "headers", None))
    return error_response(_protocol(path), HttpError(Fault.NO_ROUTE, f"{path}: no such route"))


def create_app(
    runtime: ServingRuntime,
    *,
    api_keys: Iterable[str] | str | None = None,
    api_keys_env: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    public_paths: Iterable[str] = DEFAULT_PUBLIC_PATHS,
    load_timeout_s: float = 60.0,
    exporter: PrometheusExporter | None = None,
) -> Starlette:
    """The HTTP front of `runtime`: Open Inference Protocol V2 at `/v2`, OpenAI-compatible at `/v1`, `/metrics`.

    Args:
        runtime: the runtime to serve; the app neither starts nor stops it.
        api_keys: accepted bearer tokens (None, and no `api_keys_env`: no auth).
        api_keys_env: an environment variable holding more keys, comma-separated.
        max_body_bytes: longer bodies are answered 413.
        public_paths: paths (below the mount point) served without a token.
        load_timeout_s: how long a repository load waits for the version to be READY.
        exporter: the Prometheus exporter `/metrics` serves (None: a new one fed by the runtime).

    Raises:
        ConfigError: an invalid option, naming it.
    """
    options = app_options(
        api_keys=api_keys,
        api_keys_env=api_keys_env,
        max_body_bytes=max_body_bytes,
        public_paths=public_paths,
        load_timeout_s=load_timeout_s,
    )
    front = Front(runtime, options)
    metrics = HttpMetrics(runtime, exporter)
    routes: list[BaseRoute] = [
        *V2Routes(front).routes(),
        *OpenAIRoutes(front).routes(),
        Route("/metrics", metrics.endpoint),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_Gate, options=options, metrics=metrics, routes=routes)],
        exception_handlers={404: _not_found, 405: _not_found},
    )
