"""HttpServer: uvicorn on a thread of its own, serving `create_app(runtime, ...)`.

`ServingRuntime.serve_http` builds one through the `actorserve.servers`
entry point (`http`). The socket is bound in the caller's thread, so a taken
port raises there and port 0 reports the real one; uvicorn captures no
signals (it is not on the main thread). `close` stops accepting, lets the
requests in progress finish within the graceful timeout, then joins the thread.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from typing import TYPE_CHECKING, Any

from actorserve.adapters.extras import missing_extra
from actorserve.domain.errors import ConfigError

if TYPE_CHECKING:
    from actorserve.actors.runtime import ServingRuntime

__all__ = ["HttpServer"]

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0


class HttpServer:
    """The HTTP front on uvicorn (server `http`; extra `actorserve[server]`).

    Args:
        runtime: the runtime served (not owned: closing the server leaves it running).
        graceful_timeout_s: the longest `close` lets requests in progress run.
        app_options: keywords for `create_app` (api_keys, api_keys_env, max_body_bytes, public_paths, ...).

    Raises:
        ConfigError: starlette or uvicorn is missing, or an option is invalid.
    """

    def __init__(self, runtime: ServingRuntime, *, graceful_timeout_s: float = 30.0, **app_options: Any) -> None:
        try:
            import starlette  # noqa: F401 - checked here so a missing extra is one line
            import uvicorn
        except ImportError as exc:
            raise missing_extra(exc.name or "uvicorn", "server", "http", kind="server") from None
        from actorserve.adapters.http.app import create_app

        if not isinstance(graceful_timeout_s, int | float) or isinstance(graceful_timeout_s, bool):
            raise ConfigError(
                f"graceful_timeout_s: must be a number (got {graceful_timeout_s!r})", field="graceful_timeout_s"
            )
        self._uvicorn = uvicorn
        self._graceful_s = max(float(graceful_timeout_s), 0.0)
        self.app = create_app(runtime, **app_options)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def serve(self, host: str, port: int) -> int:
        """Bind `host:port` (0: any free port), start serving, return the port once uvicorn accepts.

        Raises:
            OSError: the address cannot be bound.
            RuntimeError: already serving, or uvicorn did not start.
        """
        if self._server is not None:
            msg = "the HTTP server is already serving"
            raise RuntimeError(msg)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except BaseException:
            sock.close()
            raise
        bound = int(sock.getsockname()[1])
        config = self._uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=math.ceil(self._graceful_s),
        )
        started = threading.Event()

        class _Server(self._uvicorn.Server):  # type: ignore[name-defined, misc]
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                try:
                    await super().startup(sockets=sockets)
                finally:
                    started.set()

        server = _Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"actorserve-http:{bound}")
        self._server, self._thread = server, thread
        thread.start()
        if not started.wait(_START_TIMEOUT_S) or not server.started:
            self.close(1.0)
            sock.close()
            msg = f"the HTTP server did not start on {host}:{bound}"
            raise RuntimeError(msg)
        log.info("HTTP front listening on %s:%d", host, bound, extra={"event": "http_listening"})
        return bound

    def close(self, timeout_s: float) -> None:
        """Stop accepting, give requests in progress up to `timeout_s` (and the graceful timeout), join the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        grace = min(self._graceful_s, max(timeout_s, 0.0))
        server.config.timeout_graceful_shutdown = grace  # uvicorn reads it as seconds, a float works
        server.should_exit = True
        thread.join(grace + 5.0)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5.0)
        if thread.is_alive():
            log.warning("the HTTP server thread did not stop", extra={"event": "http_stuck"})
