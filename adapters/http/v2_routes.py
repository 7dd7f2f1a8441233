"""Open Inference Protocol V2 routes (KServe, Triton, MLServer speak it), plus the repository extension.

```
GET  /v2                                        server metadata
GET  /v2/health/live | /v2/health/ready         200, or 503 (ready: health()["ready"])
GET  /v2/models/{m}[/versions/{v}]              name, versions, platform, inputs, outputs
GET  /v2/models/{m}[/versions/{v}]/ready        200, or 503
POST /v2/models/{m}[/versions/{v}]/infer        tensors in, tensors out
POST /v2/repository/index                       every version and its state
POST /v2/repository/models/{m}/load | /unload   register a version from its definition; unload
```

`{m}` may be an experiment id (its A/B test, canary or ensemble answers);
`{v}` is a version id. Tensors are JSON (`{name, shape, datatype, data}`);
the binary tensor extension is refused with a 400 that says so. Errors are
`{"error": "..."}` with the status from `errors.V2_STATUS`.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actorserve.adapters.config import parse_version
from actorserve.adapters.http.body import read_json, request_timeout
from actorserve.adapters.http.errors import Fault, HttpError, Protocol, failure_of, guarded
from actorserve.adapters.http.front import KEY_HEADER, Front, version_headers
from actorserve.adapters.onnx_invoker import tensor_signature
from actorserve.adapters.tensors import Tensor, TensorError, parse_tensors, tensor_of
from actorserve.domain.entities import ModelVersion
from actorserve.domain.enums import ErrorCode, ModelStatus, ModelType, coerce_enum
from actorserve.domain.errors import ActorServeError, ConfigError

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["V2Routes"]

_READY = (ModelStatus.READY, ModelStatus.SERVING)
_BACKENDS_WITH_SIGNATURES = ("onnx", "onnxruntime")


def _package_version() -> str:
    try:
        return version("actorserve")
    except PackageNotFoundError:
        return "unknown"


class V2Routes:
    """The V2 endpoints of one app.

    Args:
        front: the runtime and options the routes share.
    """

    def __init__(self, front: Front) -> None:
        self.front = front
        self._signatures: dict[str, dict[str, list[dict[str, object]]]] = {}

    def routes(self) -> list[Route]:
        """Every V2 route, each answering failures in the V2 format."""
        g = self._guard
        model = "/v2/models/{model}"
        pinned = "/v2/models/{model}/versions/{version}"
        return [
            Route("/v2", g(self.server_metadata)),
            Route("/v2/health/live", g(self.live)),
            Route("/v2/health/ready", g(self.ready)),
            Route(model, g(self.model_metadata)),
            Route(pinned, g(self.model_metadata)),
            Route(f"{model}/ready", g(self.model_ready)),
            Route(f"{pinned}/ready", g(self.model_ready)),
            Route(f"{model}/infer", g(self.infer), methods=["POST"]),
            Route(f"{pinned}/infer", g(self.infer), methods=["POST"]),
            Route("/v2/repository/index", g(self.repository_index), methods=["POST"]),
            Route("/v2/repository/models/{model}/load", g(self.load), methods=["POST"]),
            Route("/v2/repository/models/{model}/unload", g(self.unload), methods=["POST"]),
        ]

    @staticmethod
    def _guard(handler: Any) -> Any:
        return guarded(Protocol.V2, handler)

    # --- server --------------------------------------------------------------------

    async def server_metadata(self, request: Request) -> Response:
        """`GET /v2`."""
        return JSONResponse({"name": "actorserve", "version": _package_version(), "extensions": ["model_repository"]})

    async def live(self, request: Request) -> Response:
        """`GET /v2/health/live`: 200 while the runtime runs."""
        health = await self.front.control(self.front.runtime.health)
        if not health["live"]:
            raise HttpError(ErrorCode.UNAVAILABLE, "the runtime is stopping")
        return Response(status_code=200)

    async def ready(self, request: Request) -> Response:
        """`GET /v2/health/ready`: 200 only when `health()["ready"]`."""
        health = await self.front.control(self.front.runtime.health)
        if not health["ready"]:
            raise HttpError(ErrorCode.NOT_READY, "not ready: a required version is not READY, or none is")
        return Response(status_code=200)

    # --- models ----------------------------------------------------------------------

    async def _versions_of(self, request: Request) -> list[ModelVersion]:
        model = request.path_params["model"]
        pinned = request.path_params.get("version")
        found = [v for v in await self.front.versions(model) if pinned is None or v.version_id == pinned]
        if not found:
            what = f"model {model!r}" + (f" version {pinned!r}" if pinned else "")
            raise HttpError(ErrorCode.NOT_FOUND, f"{what}: not found")
        return found

    async def signature(self, version: ModelVersion) -> dict[str, list[dict[str, object]]]:
        """The version's inputs and outputs where its backend knows them (ONNX), else empty lists."""
        known = self._signatures.get(version.version_id)
        if known is not None:
            return known
        backend = str(version.parameters.get("invoker") or version.framework).strip().lower()
        signature: dict[str, list[dict[str, object]]] = {"inputs": [], "outputs": []}
        if backend in _BACKENDS_WITH_SIGNATURES:
            try:
                signature = await self.front.control(tensor_signature, version)
            except ActorServeError:
                pass  # the version's own load reports an unreadable file
        self._signatures[version.version_id] = signature
        return signature

    async def _declared(self, version_id: str) -> dict[str, str]:
        """The output datatypes the answering version's model declares (cached: no control call per request)."""
        signature = self._signatures.get(version_id)
        if signature is None:
            version = await self.front.control(self.front.runtime.get_version, version_id)
            if version is None:
                return {}
            signature = await self.signature(version)
        return {str(o["name"]): str(o["datatype"]) for o in signature["outputs"]}

    async def model_metadata(self, request: Request) -> Response:
        """`GET /v2/models/{m}[/versions/{v}]`."""
        name = request.path_params["model"]
        kind = self.front.runtime.experiments.kind(name)
        if kind is not None and "version" not in request.path_params:
            return JSONResponse(
                {"name": name, "versions": [], "platform": f"actorserve-{kind}", "inputs": [], "outputs": []}
            )
        found = await self._versions_of(request)
        shown = next((v for v in reversed(found) if v.status in _READY), found[-1])
        signature = await self.signature(shown)
        return JSONResponse(
            {
                "name": name,
                "versions": [v.version_id for v in found],
                "platform": shown.framework,
                "inputs": signature["inputs"],
                "outputs": signature["outputs"],
            }
        )

    async def model_ready(self, request: Request) -> Response:
        """`GET /v2/models/{m}[/versions/{v}]/ready`: 200 when a version is READY."""
        name = request.path_params["model"]
        if "version" not in request.path_params and name in self.front.runtime.experiments.list():
            return Response(status_code=200)
        found = await self._versions_of(request)
        if not any(v.status in _READY for v in found):
            states = ", ".join(f"{v.version_id} {v.status.value}" for v in found)
            raise HttpError(ErrorCode.NOT_READY, f"model {name!r}: no version is READY ({states})")
        return Response(status_code=200)

    async def infer(self, request: Request) -> Response:
        """`POST /v2/models/{m}[/versions/{v}]/infer`."""
        if request.headers.get("inference-header-content-length") is not None:
            msg = "binary tensor data is not supported yet: send the tensors as JSON (binary_data=False)"
            raise HttpError(Fault.UNSUPPORTED, msg)
        body = await read_json(request, self.front.options.max_body_bytes)
        raw = body.get("inputs")
        if not isinstance(raw, list) or not raw:
            raise HttpError(Fault.SCHEMA, "inputs: must be a non-empty list of tensors", param="inputs")
        try:
            tensors = parse_tensors(raw, "inputs")
            input_data = {t.name: t.nested() for t in tensors}
        except TensorError as exc:
            raise HttpError(ErrorCode.INVALID_INPUT, str(exc)) from None
        if len(input_data) != len(tensors):
            raise HttpError(ErrorCode.INVALID_INPUT, "inputs: two tensors have the same name")
        parameters = body.get("parameters", {})
        if not isinstance(parameters, dict):
            raise HttpError(Fault.SCHEMA, "parameters: must be an object", param="parameters")
        parameters = dict(parameters)
        timeout = request_timeout(request, parameters.pop("timeout_ms", None), "parameters.timeout_ms")
        wanted = _wanted_outputs(body.get("outputs"))
        target = self.front.target(request.path_params["model"], request.path_params.get("version"))
        answer = await self.front.serve(
            request,
            target,
            input_data,
            parameters=parameters or None,
            timeout_ms=timeout,
            key=request.headers.get(KEY_HEADER),
        )
        headers = version_headers(answer)
        if not answer.success:
            raise failure_of(answer, headers)
        outputs = _encode_outputs(answer.output_data, wanted, await self._declared(answer.version_id))
        reply: dict[str, object] = {
            "model_name": target.name,
            "model_version": answer.version_id,
            "id": str(body["id"]) if "id" in body else answer.request_id,
            "outputs": [t.wire() for t in outputs],
        }
        return JSONResponse(reply, headers=headers)

    # --- repository extension ------------------------------------------------------------

    async def repository_index(self, request: Request) -> Response:
        """`POST /v2/repository/index`: every version, its state and why (the last error)."""
        found = await self.front.versions()
        return JSONResponse(
            [
                {
                    "name": v.model_name,
                    "version": v.version_id,
                    "state": v.status.value.upper(),
                    "reason": v.last_error or "",
                }
                for v in found
            ]
        )

    async def load(self, request: Request) -> Response:
        """`POST /v2/repository/models/{m}/load`: register the version the body defines, wait until READY."""
        body = await read_json(request, self.front.options.max_body_bytes)
        model = request.path_params["model"]
        try:
            model_type = coerce_enum(ModelType, body.pop("type", "custom_model"), "type")
            made = parse_version(body, model, model_type, where="body")
            accepted = await self.front.control(self.front.runtime.register, made)
        except ConfigError as exc:
            raise HttpError(Fault.SCHEMA, str(exc), param=exc.field) from None
        if not accepted:
            raise HttpError(Fault.CONFLICT, f"version {made.version_id!r}: already registered and live")
        timeout = self.front.options.load_timeout_s
        if not await self.front.control(self.front.runtime.wait_ready, made.version_id, timeout):
            if made.status is ModelStatus.FAILED:
                raise HttpError(ErrorCode.MODEL_ERROR, f"version {made.version_id!r}: {made.last_error}")
            raise HttpError(ErrorCode.NOT_READY, f"version {made.version_id!r}: not READY after {timeout:g}s")
        return JSONResponse({"name": model, "version": made.version_id, "state": made.status.value.upper()})

    async def unload(self, request: Request) -> Response:
        """`POST /v2/repository/models/{m}/unload`: drain every live version of the model (or `{"version": id}`)."""
        sent = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
        body = await read_json(request, self.front.options.max_body_bytes) if sent else {}
        model = request.path_params["model"]
        pinned = body.get("version")
        live = [
            v
            for v in await self.front.versions(model)
            if v.status not in (ModelStatus.STOPPED, ModelStatus.DRAINING) and pinned in (None, v.version_id)
        ]
        if not live:
            raise HttpError(ErrorCode.NOT_FOUND, f"model {model!r}: no live version to unload")
        for v in live:
            await self.front.control(self.front.runtime.unload, v.version_id)
        return JSONResponse({"name": model, "unloaded": [v.version_id for v in live]})


def _wanted_outputs(raw: object) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in raw):
        raise HttpError(Fault.SCHEMA, "outputs: must be a list of {name}", param="outputs")
    return [str(o["name"]) for o in raw]


def _encode_outputs(data: object, wanted: list[str], declared: dict[str, str]) -> list[Tensor]:
    """The answer's outputs as tensors, in the declared datatype where the model says, else inferred.

    A value that is no tensor (a dict, mixed kinds) goes out as one BYTES element holding its JSON.
    """
    named: dict[str, object] = data if isinstance(data, dict) else {"output": data}
    for name in wanted:
        if name not in named:
            msg = f"outputs: the model has no output {name!r} (outputs: {', '.join(named)})"
            raise HttpError(ErrorCode.INVALID_INPUT, msg, param="outputs")
    tensors = []
    for name in wanted or list(named):
        value = named[name]
        try:
            tensors.append(tensor_of(name, value, f"outputs.{name}", declared.get(name), allow_nonfinite=True))
        except TensorError:
            try:
                tensors.append(tensor_of(name, value, f"outputs.{name}", allow_nonfinite=True))
            except TensorError:
                tensors.append(Tensor(name, (1,), "BYTES", [json.dumps(value, default=str)]))
    return tensors
