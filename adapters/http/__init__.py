"""The HTTP front: Open Inference Protocol V2 and OpenAI-compatible routes over a runtime (extra `server`).

`create_app(runtime, ...)` returns a Starlette app to mount in a host app;
`ServingRuntime.serve_http(port)` runs one on uvicorn in a thread (`HttpServer`).
"""

from __future__ import annotations

from actorserve.adapters.extras import missing_extra

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as _exc:
    raise missing_extra(_exc.name or "starlette", "server", "http", kind="server") from None

from actorserve.adapters.http.app import create_app
from actorserve.adapters.http.options import DEFAULT_MAX_BODY_BYTES, DEFAULT_PUBLIC_PATHS, app_options
from actorserve.adapters.http.server import HttpServer

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_PUBLIC_PATHS", "HttpServer", "app_options", "create_app"]
