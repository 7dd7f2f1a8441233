"""V2Invoker: models behind an Open Inference Protocol V2 server (KServe, Triton, MLServer, TorchServe).

`POST {endpoint}/v2/models/{name}[/versions/{v}]/infer`. A request gives its
tensors either by name, `{"input-0": [[5.1, 3.5, 1.4, 0.2]]}` (shape and
datatype inferred: BOOL, INT64, FP64 or BYTES, or set per name in
`parameters.datatypes`), or in the protocol's own form,
`{"inputs": [{"name", "shape", "datatype", "data"}]}`. The answer maps each
output name to a nested list in its shape.

A batch of requests with the same tensor names, datatypes and trailing shapes
is one call, concatenated on the first axis, and split back by rows; others
go one by one. A replica loads when `/v2/health/ready` and the model's
`/ready` answer 200, so a version waits (with its load retries) for a server
still starting. Parameters: `model_name` (default: the version's model name),
`model_version`, `datatypes`, `outputs` (names to request), `headers`,
`api_key` / `api_key_env`, `allow_nonfinite`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actorserve.adapters.http_client import Connection, HttpBackend
from actorserve.adapters.params import param
from actorserve.adapters.tensors import (
    Tensor,
    TensorError,
    check_elements,
    flatten,
    parse_tensors,
    reshape,
    split_rows,
    tensor_of,
)
from actorserve.domain.entities import JSONValue, ModelRequest, ModelVersion
from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import ConfigError, InvocationError, ModelLoadError
from actorserve.domain.ports import InvocationResult, ModelHandle

__all__ = ["V2Invoker"]


def _encode(data: dict[str, object], datatypes: dict[str, str], allow_nonfinite: bool) -> tuple[Tensor, ...]:
    """A request's input_data as V2 tensors; raises TensorError naming the field."""
    if "inputs" in data and isinstance(data["inputs"], list):
        return parse_tensors(data["inputs"], "input_data.inputs", allow_nonfinite=allow_nonfinite)
    if not data:
        raise TensorError("input_data: needs at least one tensor")
    return tuple(
        tensor_of(name, value, f"input_data.{name}", datatypes.get(name), allow_nonfinite=allow_nonfinite)
        for name, value in data.items()
    )


def _decode(body: object, where: str = "outputs") -> dict[str, JSONValue]:
    """A V2 response's outputs as `{name: nested list}`."""
    outputs = body.get("outputs") if isinstance(body, dict) else None
    if not isinstance(outputs, list):
        raise TensorError(f"{where}: the response has no outputs list")
    decoded: dict[str, JSONValue] = {}
    for i, out in enumerate(outputs):
        if not isinstance(out, dict) or "name" not in out or "data" not in out:
            raise TensorError(f"{where}[{i}]: needs name and data")
        shape = out.get("shape") or [len(flatten(out["data"]))]
        decoded[str(out["name"])] = reshape(flatten(out["data"]), shape, f"{where}[{i}]")
    return decoded


@dataclass(slots=True)
class _Remote:
    conn: Connection
    infer_path: str
    ready_path: str
    datatypes: dict[str, str]
    outputs: tuple[str, ...]
    allow_nonfinite: bool


class V2Invoker(HttpBackend):
    """Open Inference Protocol V2 over HTTP (entry point `v2`; extra `actorserve[http]`)."""

    backend = "v2"

    def validate(self, version: ModelVersion) -> None:
        """Check the version's parameters (runtime.register calls this).

        Raises:
            ConfigError: naming the field.
        """
        super().validate(version)
        datatypes = param(version, "datatypes", dict, {})
        for name, datatype in datatypes.items():  # type: ignore[attr-defined]
            try:
                check_elements([], datatype, f"parameters.datatypes.{name}")
            except TensorError as exc:
                raise ConfigError(str(exc), field=f"parameters.datatypes.{name}") from None
        outputs = param(version, "outputs", list, [])
        if not all(isinstance(o, str) for o in outputs):  # type: ignore[attr-defined]
            raise ConfigError("parameters.outputs: must be a list of output names", field="parameters.outputs")
        param(version, "allow_nonfinite", bool)

    def load(self, version: ModelVersion) -> ModelHandle:
        """Connect one replica and wait for nothing: fail fast if the server or model is not ready."""
        conn = self.connect(version)
        base = conn.model_path("/v2")
        remote = _Remote(
            conn=conn,
            infer_path=f"{base}/infer",
            ready_path=f"{base}/ready",
            datatypes={str(k): str(v) for k, v in dict(param(version, "datatypes", dict, {})).items()},  # type: ignore[call-overload]
            outputs=tuple(param(version, "outputs", list, [])),  # type: ignore[arg-type]
            allow_nonfinite=bool(param(version, "allow_nonfinite", bool, False)),
        )
        timeout = version.serving.timeout_ms / 1000.0
        for path, what in (("/v2/health/ready", "server"), (remote.ready_path, f"model {conn.model!r}")):
            if not self.ready(conn, path, timeout):
                self.disconnect(conn)
                msg = f"v2: the {what} is not ready at {self.base_url(version)}{path}"
                raise ModelLoadError(msg, version_id=version.version_id)
        return remote

    def _call(
        self,
        remote: _Remote,
        request: ModelRequest,
        tensors: Sequence[Tensor],
        timeout_s: float,
    ) -> dict[str, Any]:
        body: dict[str, object] = {"id": request.request_id, "inputs": [t.wire() for t in tensors]}
        if request.parameters:
            body["parameters"] = request.parameters
        if remote.outputs:
            body["outputs"] = [{"name": name} for name in remote.outputs]
        try:
            return _decode(self.request(remote.conn, "POST", remote.infer_path, timeout_s, body))
        except TensorError as exc:
            raise InvocationError(f"v2: malformed response: {exc}", code=ErrorCode.MODEL_ERROR) from None

    def invoke_batch(
        self, handle: ModelHandle, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        """Send compatible requests as one concatenated call, the rest one by one (worker thread)."""
        assert isinstance(handle, _Remote)
        results: list[InvocationResult | None] = [None] * len(requests)
        groups: dict[tuple[object, ...], list[tuple[int, tuple[Tensor, ...]]]] = {}
        for i, request in enumerate(requests):
            try:
                tensors = _encode(request.input_data, handle.datatypes, handle.allow_nonfinite)
            except TensorError as exc:
                results[i] = InvocationResult(error=str(exc), error_code=ErrorCode.INVALID_INPUT)
                continue
            batchable = all(t.shape for t in tensors) and len({t.shape[0] for t in tensors}) == 1
            same = (tuple((t.name, t.datatype, t.shape[1:]) for t in tensors), repr(sorted(request.parameters.items())))
            key = same if batchable else ("alone", i)
            groups.setdefault(key, []).append((i, tensors))
        for group in groups.values():
            for i, result in zip(
                [i for i, _ in group], self._run_group(handle, requests, group, timeout_s), strict=True
            ):
                results[i] = result
        return [r for r in results if r is not None]

    def _run_group(
        self,
        remote: _Remote,
        requests: Sequence[ModelRequest],
        group: list[tuple[int, tuple[Tensor, ...]]],
        timeout_s: float,
    ) -> list[InvocationResult]:
        if len(group) == 1:
            i, tensors = group[0]
            return [self._run_one(remote, requests[i], tensors, timeout_s)]
        counts = [tensors[0].shape[0] for _, tensors in group]
        joined = [
            Tensor(
                first.name, (sum(counts), *first.shape[1:]), first.datatype, [x for _, ts in group for x in ts[n].data]
            )
            for n, first in enumerate(group[0][1])
        ]
        try:
            outputs = self._call(remote, requests[group[0][0]], joined, timeout_s)
            pieces = {name: split_rows(value, counts, f"outputs.{name}") for name, value in outputs.items()}
        except InvocationError as exc:
            shared = self.shared_failure(exc, len(group))
            if shared is not None:
                return shared
            return [self._run_one(remote, requests[i], ts, timeout_s) for i, ts in group]
        except TensorError:  # outputs that are not per-row: ask for each request alone
            return [self._run_one(remote, requests[i], ts, timeout_s) for i, ts in group]
        return [InvocationResult(output={name: p[n] for name, p in pieces.items()}) for n in range(len(group))]

    def _run_one(
        self, remote: _Remote, request: ModelRequest, tensors: Sequence[Tensor], timeout_s: float
    ) -> InvocationResult:
        try:
            return InvocationResult(output=self._call(remote, request, tensors, timeout_s))
        except InvocationError as exc:
            return InvocationResult(error=str(exc), error_code=exc.code)

    def health(self, handle: ModelHandle) -> bool:
        """True when the model's `/ready` answers 200."""
        return isinstance(handle, _Remote) and self.ready(handle.conn, handle.ready_path, 2.0)
