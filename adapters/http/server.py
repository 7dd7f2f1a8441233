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
FRESH_GRACE_S = 1.0
"""On shutdown, how long a connection accepted before it may take to send its first request (then answered)."""


class _Counts:
    """Requests the protocol read, answered, and lost to clients that left (event loop thread only)."""

    def __init__(self) -> None:
        self.received = 0
        self.answered = 0
        self.abandoned = 0

    @property
    def unanswered(self) -> int:
        return self.received - self.answered - self.abandoned


def _protocol_class(counts: _Counts) -> type[Any]:
    """The HTTP protocol of uvicorn (httptools when installed, else h11), with a fairer shutdown and counts.

    uvicorn closes every connection without a request in progress at once,
    so a client whose connection was accepted a moment before shutdown but
    whose request had not been read yet is cut off unanswered. Here such a
    fresh connection (it has never had a request answered) gets
    `FRESH_GRACE_S` to send one, which is then answered and the connection
    closed; idle keep-alive connections are closed at once, as before
    (clients retry those).
    """
    base: type[Any]
    try:
        import httptools  # noqa: F401 - uvicorn's fast parser, as its "auto" would pick
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    class DrainingProtocol(base):  # type: ignore[misc]
        _fresh = True
        _draining = False

        def on_response_complete(self) -> None:
            self._fresh = False
            counts.answered += 1
            super().on_response_complete()

        def _started(self, before: object) -> None:
            if self.cycle is not None and self.cycle is not before:
                counts.received += 1
                if self._draining:
                    self.cycle.keep_alive = False

        def handle_events(self) -> None:  # h11: a request's headers are parsed here
            before = self.cycle
            super().handle_events()
            self._started(before)

        def on_headers_complete(self) -> None:  # httptools: ... and here
            before = self.cycle
            super().on_headers_complete()
            self._started(before)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.cycle is not None and not self.cycle.response_complete:
                counts.abandoned += 1
            super().connection_lost(exc)

        def shutdown(self) -> None:
            if self.cycle is None and self._fresh:
                self._draining = True
                self.loop.call_later(FRESH_GRACE_S, self._close_if_idle)
                return
            super().shutdown()

        def _close_if_idle(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                super().shutdown()

    return DrainingProtocol


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
        self._counts = _Counts()

    def serve(self, host: str, port: int) -> int:
        """Bind `host:port` (0: any free port), start serving, return the port once uvicorn accepts.

        Raises:
            OSError: the address cannot be bound.
            RuntimeError: already serving, or uvicorn did not start.
        """
        if self._server is not None:
            msg = "the HTTP server is already serving"
            raise RuntimeError(msg)
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and without it a
        # response written as headers then body waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
            http=_protocol_class(self._counts),
        )
        started = threading.Event()

        class _Server(self._uvicorn.Server):  # type: ignore[name-defined, misc]
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                try:
                    await super().startup(sockets=sockets)
                finally:
                    started.set()

        server = _Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"actorserve-http:{bound}", daemon=True
        )
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
        c = self._counts
        log.info(
            "HTTP front stopped: %d requests read, %d answered, %d left by their clients",
            c.received,
            c.answered,
            c.abandoned,
            extra={"event": "http_stopped"},
        )
        if c.unanswered:
            log.warning("HTTP front stopped with %d requests unanswered", c.unanswered, extra={"event": "unanswered"})
