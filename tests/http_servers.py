"""Small real HTTP servers on 127.0.0.1 for the HTTP invokers' tests.

`V2Server` speaks the Open Inference Protocol V2 for a few toy models that
misbehave on purpose; `TFServingServer` follows TensorFlow Serving's
documented REST API (no server binary is installable here). Both run a
stdlib `ThreadingHTTPServer` on a free port and stop with their `with` block.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

Route = Callable[[str, str, Any, dict[str, str]], tuple[int, Any]]


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JsonServer:
    """Serves `route(method, path, json_body, headers) -> (status, body)` on 127.0.0.1.

    A `str` body is sent as text/html (a proxy's error page); anything else as JSON.
    """

    def __init__(self, route: Route) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.connections: set[socket.socket] = set()
        self.release = threading.Event()  # ends any request the route holds
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                outer.connections.add(self.connection)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                outer.requests.append((method, self.path, body))
                status, answer = route(method, self.path, body, dict(self.headers))
                if isinstance(answer, str):
                    data, kind = answer.encode(), "text/html"
                else:
                    data, kind = json.dumps(answer).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="test-http-server", daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        for conn in list(self.connections):  # keep-alive connections would outlive the server
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def posts(self, path_part: str) -> list[Any]:
        """Bodies of the POSTs whose path contains `path_part`."""
        return [body for method, path, body in list(self.requests) if method == "POST" and path_part in path]


class V2Server(JsonServer):
    """A V2 server with toy models.

    - `double`: each tensor doubled, shape kept (output `doubled`, FP64).
    - `rowsum`: a [n, k] input summed per row (output `sum`, shape [n]).
    - `total`: one number for the whole request (not per row).
    - `fail` 500 JSON, `html` 500 text, `busy` 429, `down` 503, `slow` waits for `release`.
    - `echo-auth`: 400 quoting the Authorization header it got.
    - `late`: not ready until `ready_late` is set.
    """

    def __init__(self) -> None:
        self.ready_late = threading.Event()
        super().__init__(self._route)

    def _route(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/v2/health/ready":
            return 200, {}
        m = re.fullmatch(r"/v2/models/([\w-]+)(?:/versions/(\w+))?/(ready|infer)", path)
        if m is None:
            return 404, {"error": f"no route {path}"}
        name, _, action = m.groups()
        if action == "ready":
            known = name != "late" or self.ready_late.is_set()
            return (200, {}) if known else (404, {"error": f"model {name} not found"})
        return self._infer(name, body, headers)

    def _infer(self, name: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        fixed = {
            "fail": (500, {"error": "model exploded"}),
            "html": (500, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "busy": (429, {"error": "too many requests"}),
            "down": (503, {"error": "model is reloading"}),
            "echo-auth": (400, {"error": f"bad header {headers.get('Authorization')}"}),
        }
        if name in fixed:
            return fixed[name]
        if name == "slow":
            self.release.wait(5)
            return 200, {"model_name": name, "outputs": []}
        inputs = body["inputs"]
        first = inputs[0]
        if name == "double":
            outputs = [
                {"name": "doubled", "shape": first["shape"], "datatype": "FP64", "data": [x * 2 for x in first["data"]]}
            ]
        elif name == "rowsum":
            rows, width = first["shape"]
            data = first["data"]
            sums = [sum(data[r * width : (r + 1) * width]) for r in range(rows)]
            outputs = [{"name": "sum", "shape": [rows], "datatype": "FP64", "data": sums}]
        elif name == "total":
            outputs = [{"name": "total", "shape": [1], "datatype": "FP64", "data": [sum(first["data"])]}]
        else:
            return 404, {"error": f"model {name} not found"}
        return 200, {"model_name": name, "id": body.get("id"), "outputs": outputs}


class TFServingServer(JsonServer):
    """TensorFlow Serving's REST API for one model, `half_plus_two` (y = x / 2 + 2, elementwise).

    `POST /v1/models/half_plus_two[/versions/N]:predict` with `instances` (row
    form, answered as `predictions`) or `inputs` (columnar, answered as
    `outputs`); `GET /v1/models/half_plus_two` reports version status; errors
    are `{"error": "..."}` with a 4xx/5xx status, as TF Serving sends them.
    """

    def __init__(self) -> None:
        super().__init__(self._route)

    @staticmethod
    def _apply(value: Any) -> Any:
        if isinstance(value, list):
            return [TFServingServer._apply(v) for v in value]
        if isinstance(value, dict):
            return {k: TFServingServer._apply(v) for k, v in value.items()}
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"Expected float, got {value!r}"
            raise TypeError(msg)
        return value / 2 + 2

    def _route(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:  # noqa: PLR0911
        m = re.fullmatch(r"/v1/models/([\w-]+)(?:/versions/(\d+))?(:predict)?", path)
        if m is None or m.group(1) != "half_plus_two":
            return 404, {"error": f"Servable not found for request: {path}"}
        if m.group(3) is None:
            return 200, {
                "model_version_status": [{"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK"}}]
            }
        if m.group(2) not in (None, "123"):
            return 404, {"error": f"Servable not found for request: Specific(half_plus_two, {m.group(2)})"}
        try:
            if "instances" in body:
                return 200, {"predictions": self._apply(body["instances"])}
            if "inputs" in body:
                return 200, {"outputs": self._apply(body["inputs"])}
        except TypeError as exc:
            return 400, {"error": str(exc)}
        return 400, {"error": "JSON Value: missing 'instances' or 'inputs'"}
