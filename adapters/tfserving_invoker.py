"""TFServingInvoker: TensorFlow Serving's REST predict API.

`POST {endpoint}/v1/models/{name}[/versions/{v}]:predict`. A request in row
form, `{"instances": [...]}`, is answered `{"predictions": [...]}`; in
columnar form, `{"inputs": ...}`, it is answered `{"outputs": ...}`.
`signature_name` comes from the request or `parameters.signature_name`.
Row-form requests of one batch are one call: their instances are joined and
the predictions split back by count. A replica loads when
`GET /v1/models/{name}` reports a version AVAILABLE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from actorserve.adapters.http_client import Connection, HttpBackend
from actorserve.adapters.params import param
from actorserve.adapters.tensors import TensorError, flatten, split_rows
from actorserve.domain.entities import ModelRequest, ModelVersion
from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import InvocationError, ModelLoadError
from actorserve.domain.ports import InvocationResult, ModelHandle

__all__ = ["TFServingInvoker"]


@dataclass(slots=True)
class _Remote:
    conn: Connection
    predict_path: str
    status_path: str
    signature: str | None
    allow_nonfinite: bool


def _check(data: dict[str, object], allow_nonfinite: bool) -> str:
    """`instances` or `inputs`: which form the request uses; raises TensorError naming the problem."""
    forms = [k for k in ("instances", "inputs") if k in data]
    extra = sorted(set(data) - {"instances", "inputs", "signature_name"})
    if len(forms) != 1 or extra:
        msg = "input_data: needs exactly one of instances (row form) or inputs (columnar form)"
        raise TensorError(msg + (f"; unknown keys: {', '.join(extra)}" if extra else ""))
    form = forms[0]
    if form == "instances" and (not isinstance(data[form], list) or not data[form]):
        raise TensorError("input_data.instances: must be a non-empty list")
    if not allow_nonfinite:
        value = data[form]
        for i, x in enumerate(flatten(list(value.values()) if isinstance(value, dict) else value)):
            if isinstance(x, float) and not math.isfinite(x):
                raise TensorError(f"input_data.{form}: element {i} is {x!r}, not finite")
    return form


class TFServingInvoker(HttpBackend):
    """TensorFlow Serving REST (entry point `tfserving`; extra `actorserve[http]`)."""

    backend = "tfserving"

    def validate(self, version: ModelVersion) -> None:
        """Check the version's parameters (runtime.register calls this)."""
        super().validate(version)
        param(version, "signature_name", str)
        param(version, "allow_nonfinite", bool)

    def load(self, version: ModelVersion) -> ModelHandle:
        """Connect one replica once the model reports a version AVAILABLE."""
        conn = self.connect(version)
        base = conn.model_path("/v1")
        remote = _Remote(
            conn=conn,
            predict_path=f"{base}:predict",
            status_path=base,
            signature=param(version, "signature_name", str),  # type: ignore[arg-type]
            allow_nonfinite=bool(param(version, "allow_nonfinite", bool, False)),
        )
        if not self._available(remote, version.serving.timeout_ms / 1000.0):
            self.disconnect(conn)
            msg = f"tfserving: model {conn.model!r} has no AVAILABLE version at {self.base_url(version)}{base}"
            raise ModelLoadError(msg, version_id=version.version_id)
        return remote

    def _available(self, remote: _Remote, timeout_s: float) -> bool:
        try:
            status = self.request(remote.conn, "GET", remote.status_path, timeout_s)
        except InvocationError:
            return False
        versions = status.get("model_version_status") if isinstance(status, dict) else None
        return isinstance(versions, list) and any(
            isinstance(v, dict) and v.get("state") == "AVAILABLE" for v in versions
        )

    def _predict(self, remote: _Remote, body: dict[str, object], timeout_s: float) -> object:
        if remote.signature and "signature_name" not in body:
            body = {"signature_name": remote.signature, **body}
        answer = self.request(remote.conn, "POST", remote.predict_path, timeout_s, body)
        key = "predictions" if "instances" in body else "outputs"
        if not isinstance(answer, dict) or key not in answer:
            msg = f"tfserving: the response has no {key!r}"
            raise InvocationError(msg, code=ErrorCode.MODEL_ERROR)
        return answer[key]

    def invoke_batch(
        self, handle: ModelHandle, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        """Join row-form requests into one call; send columnar ones alone (worker thread)."""
        assert isinstance(handle, _Remote)
        results: list[InvocationResult | None] = [None] * len(requests)
        rows: list[int] = []
        for i, request in enumerate(requests):
            try:
                form = _check(request.input_data, handle.allow_nonfinite)
            except TensorError as exc:
                results[i] = InvocationResult(error=str(exc), error_code=ErrorCode.INVALID_INPUT)
                continue
            plain = set(request.input_data) == {"instances"}
            if form == "instances" and plain:
                rows.append(i)
            else:
                results[i] = self._one(handle, dict(request.input_data), timeout_s)
        if len(rows) == 1:
            results[rows[0]] = self._one(handle, dict(requests[rows[0]].input_data), timeout_s)
        elif rows:
            for i, result in zip(rows, self._joined(handle, [requests[i] for i in rows], timeout_s), strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    def _one(self, remote: _Remote, body: dict[str, object], timeout_s: float) -> InvocationResult:
        try:
            return InvocationResult(output=self._predict(remote, body, timeout_s))
        except InvocationError as exc:
            return InvocationResult(error=str(exc), error_code=exc.code)

    def _joined(self, remote: _Remote, requests: Sequence[ModelRequest], timeout_s: float) -> list[InvocationResult]:
        counts = [len(r.input_data["instances"]) for r in requests]  # type: ignore[arg-type]
        instances = [x for r in requests for x in r.input_data["instances"]]  # type: ignore[attr-defined]
        try:
            predictions = self._predict(remote, {"instances": instances}, timeout_s)
            if not isinstance(predictions, list):
                raise TensorError("predictions: not a list")
            pieces = split_rows(predictions, counts, "predictions")
        except InvocationError as exc:
            shared = self.shared_failure(exc, len(requests))
            if shared is not None:
                return shared
            return [self._one(remote, dict(r.input_data), timeout_s) for r in requests]  # find the bad one
        except TensorError:
            return [self._one(remote, dict(r.input_data), timeout_s) for r in requests]
        return [InvocationResult(output=piece) for piece in pieces]

    def health(self, handle: ModelHandle) -> bool:
        """True while the model reports a version AVAILABLE."""
        return isinstance(handle, _Remote) and self._available(handle, 2.0)
