"""OnnxInvoker: local ONNX models on ONNX Runtime, one `InferenceSession` per replica.

A version points at its file with `parameters.model_path` (or `endpoint`).
Requests carry one nested list per model input, by the input's name:
`{"X": [[5.1, 3.5, 1.4, 0.2]]}`. Each input is checked against the model's
declared shape and element type before it reaches the session; a mismatch is
an INVALID_INPUT answer naming the input. A batch of requests becomes one
`run` when every input's first axis is dynamic; outputs come back as plain
lists, one entry per output name.

Parameters: `model_path`, `allow_nonfinite` (accept NaN and infinities, default
false), `intra_op_threads` (overrides the invoker's setting).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actorserve.adapters.base import BatchInvoker
from actorserve.adapters.extras import missing_extra
from actorserve.adapters.params import model_path, param
from actorserve.domain.entities import JSONValue, ModelRequest, ModelVersion
from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import ConfigError, InvocationError, ModelLoadError
from actorserve.domain.ports import InvocationResult, ModelHandle

if TYPE_CHECKING:
    import numpy as np

__all__ = ["V2_DATATYPE_OF", "OnnxInvoker", "tensor_signature"]

log = logging.getLogger(__name__)

_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


V2_DATATYPE_OF = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int16)": "INT16",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}
"""ONNX element types as Open Inference Protocol V2 datatypes (what model metadata reports)."""


def tensor_signature(version: ModelVersion) -> dict[str, list[dict[str, object]]]:
    """The model's inputs and outputs as V2 metadata: `{"inputs": [{name, datatype, shape}], "outputs": [...]}`.

    Dynamic axes are -1. Opens the file with ONNX Runtime (no replica needed).

    Raises:
        ConfigError: no `model_path`; onnxruntime is missing.
        ModelLoadError: the file cannot be read.
    """
    try:
        import onnxruntime
    except ImportError:
        raise missing_extra("onnxruntime", "onnx", "onnx") from None
    path = model_path(version)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any reader error means the file cannot be described
        raise ModelLoadError(f"cannot read {path.name}: {exc}", version_id=version.version_id) from None

    def describe(metas: Sequence[Any]) -> list[dict[str, object]]:
        return [
            {
                "name": m.name,
                "datatype": V2_DATATYPE_OF.get(m.type, m.type),
                "shape": [d if isinstance(d, int) and d > 0 else -1 for d in (m.shape or [])],
            }
            for m in metas
        ]

    return {"inputs": describe(session.get_inputs()), "outputs": describe(session.get_outputs())}


@dataclass(frozen=True, slots=True)
class _Input:
    name: str
    shape: tuple[int | None, ...]  # None: a dynamic axis
    dtype: str


@dataclass(slots=True)
class _Session:
    session: Any
    inputs: tuple[_Input, ...]
    outputs: tuple[str, ...]
    batchable: bool
    allow_nonfinite: bool


class _InvalidInputError(ValueError):
    """One request's input does not fit the model."""


def _plain(value: object) -> JSONValue:
    """Numpy arrays, scalars and ZipMap dicts as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    return value


class OnnxInvoker(BatchInvoker):
    """Runs ONNX models with ONNX Runtime (entry point `onnx`; extra `actorserve[onnx]`).

    Args:
        intra_op_threads: threads one session may use inside an operator. The
            default of 1 suits several replicas on few cores; raise it for one
            replica of a heavy model.
        inter_op_threads: threads across independent operators.
        providers: execution providers in order of preference.
    """

    def __init__(
        self,
        intra_op_threads: int = 1,
        inter_op_threads: int = 1,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ) -> None:
        try:
            import numpy
            import onnxruntime
        except ImportError:
            raise missing_extra("onnxruntime", "onnx", "onnx") from None
        for name, value in (("intra_op_threads", intra_op_threads), ("inter_op_threads", inter_op_threads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name}: must be an integer >= 0 (got {value!r})", field=name)
        self._ort = onnxruntime
        self._np = numpy
        self._intra = intra_op_threads
        self._inter = inter_op_threads
        self._providers = list(providers)
        self._lock = threading.Lock()
        self._running: set[Any] = set()  # RunOptions of calls in progress, so close() can end them
        self._closed = False

    def validate(self, version: ModelVersion) -> None:
        """Check the version's parameters (runtime.register calls this).

        Raises:
            ConfigError: naming the parameter.
        """
        model_path(version)
        param(version, "allow_nonfinite", bool)
        threads = param(version, "intra_op_threads", int)
        if threads is not None and int(threads) < 0:  # type: ignore[call-overload]
            raise ConfigError("parameters.intra_op_threads: must be >= 0", field="parameters.intra_op_threads")

    def load(self, version: ModelVersion) -> ModelHandle:
        """Open an `InferenceSession` for one replica (worker thread)."""
        self.validate(version)
        path = model_path(version)
        if not path.is_file():
            raise ModelLoadError(f"model_path: no such file: {path}", version_id=version.version_id)
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = int(param(version, "intra_op_threads", int, self._intra))  # type: ignore[call-overload]
        options.inter_op_num_threads = self._inter
        try:
            session = self._ort.InferenceSession(str(path), sess_options=options, providers=self._providers)
        except Exception as exc:  # noqa: BLE001 - any reader error means the file cannot load
            raise ModelLoadError(f"cannot load {path.name}: {exc}", version_id=version.version_id) from None
        inputs = []
        for meta in session.get_inputs():
            dtype = _DTYPES.get(meta.type)
            if dtype is None:
                raise ModelLoadError(
                    f"input {meta.name!r}: unsupported type {meta.type}", version_id=version.version_id
                )
            shape = tuple(d if isinstance(d, int) and d > 0 else None for d in (meta.shape or []))
            inputs.append(_Input(meta.name, shape, dtype))
        batchable = all(i.shape and i.shape[0] is None for i in inputs)
        return _Session(
            session=session,
            inputs=tuple(inputs),
            outputs=tuple(o.name for o in session.get_outputs()),
            batchable=batchable,
            allow_nonfinite=bool(param(version, "allow_nonfinite", bool, False)),
        )

    # --- inputs ------------------------------------------------------------------

    def _feeds(self, s: _Session, data: Mapping[str, object]) -> dict[str, Any]:
        names = [i.name for i in s.inputs]
        for key in data:
            if key not in names:
                msg = f"input_data.{key}: not an input of the model (inputs: {', '.join(names)})"
                raise _InvalidInputError(msg)
        feeds = {}
        for spec in s.inputs:
            if spec.name not in data:
                raise _InvalidInputError(f"input_data.{spec.name}: missing (inputs: {', '.join(names)})")
            feeds[spec.name] = self._array(spec, data[spec.name], s.allow_nonfinite)
        if s.batchable and len({len(a) for a in feeds.values()}) > 1:
            rows = ", ".join(f"{k}={len(a)}" for k, a in feeds.items())
            raise _InvalidInputError(f"input_data: inputs disagree on the number of rows ({rows})")
        return feeds

    def _array(self, spec: _Input, value: object, allow_nonfinite: bool) -> np.ndarray[Any, Any]:
        np = self._np
        where = f"input_data.{spec.name}"
        try:
            raw = np.asarray(value)
        except ValueError as exc:
            raise _InvalidInputError(f"{where}: not a rectangular tensor ({exc})") from None
        if raw.dtype.kind == "O" and spec.dtype != "object":
            raise _InvalidInputError(f"{where}: not a rectangular numeric tensor")
        if spec.dtype == "object":
            if raw.dtype.kind not in "UO":
                raise _InvalidInputError(f"{where}: expected strings (model type {spec.dtype})")
            array = raw.astype(object)
        else:
            if raw.dtype.kind in "USO":
                raise _InvalidInputError(f"{where}: expected {spec.dtype} numbers (got strings)")
            fractional = raw.dtype.kind == "f" and not (np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)))
            if np.dtype(spec.dtype).kind in "iu" and fractional:
                raise _InvalidInputError(f"{where}: expected integers ({spec.dtype}), got fractional values")
            array = raw.astype(spec.dtype)
            if array.dtype.kind == "f" and not allow_nonfinite and not np.all(np.isfinite(array)):
                raise _InvalidInputError(
                    f"{where}: contains NaN or infinity (set parameters.allow_nonfinite to accept)"
                )
        if len(spec.shape) != array.ndim:
            raise _InvalidInputError(
                f"{where}: rank {array.ndim} (shape {list(array.shape)}), the model expects rank {len(spec.shape)}"
            )
        for axis, (want, got) in enumerate(zip(spec.shape, array.shape, strict=True)):
            if want is not None and want != got:
                expected = ["?" if d is None else d for d in spec.shape]
                msg = f"{where}: axis {axis} is {got}, the model expects shape {expected}"
                raise _InvalidInputError(msg)
        return array  # type: ignore[no-any-return]

    # --- running -------------------------------------------------------------------

    def _run(self, s: _Session, feeds: dict[str, Any]) -> list[Any]:
        options = self._ort.RunOptions()
        with self._lock:
            if self._closed:
                raise InvocationError("the invoker is closed", code=ErrorCode.UNAVAILABLE)
            self._running.add(options)
        try:
            return list(s.session.run(list(s.outputs), feeds, run_options=options))
        finally:
            with self._lock:
                self._running.discard(options)

    def _answer(self, s: _Session, outputs: Sequence[Any]) -> InvocationResult:
        return InvocationResult(output={name: _plain(v) for name, v in zip(s.outputs, outputs, strict=True)})

    def invoke_batch(
        self, handle: ModelHandle, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        """Validate each request, then run the valid ones as one batch where the model allows (worker thread)."""
        assert isinstance(handle, _Session)
        results: list[InvocationResult | None] = [None] * len(requests)
        valid: list[tuple[int, dict[str, Any]]] = []
        for i, request in enumerate(requests):
            try:
                valid.append((i, self._feeds(handle, request.input_data)))
            except _InvalidInputError as exc:
                results[i] = InvocationResult(error=str(exc), error_code=ErrorCode.INVALID_INPUT)
        if len(valid) > 1 and handle.batchable:
            for i, result in zip((i for i, _ in valid), self._run_batch(handle, [f for _, f in valid]), strict=True):
                results[i] = result
        else:
            for i, feeds in valid:
                results[i] = self._run_one(handle, feeds)
        return [r for r in results if r is not None]

    def _run_one(self, s: _Session, feeds: dict[str, Any]) -> InvocationResult:
        try:
            return self._answer(s, self._run(s, feeds))
        except InvocationError as exc:
            return InvocationResult(error=f"onnxruntime: {exc}", error_code=exc.code)
        except Exception as exc:  # noqa: BLE001 - a failed run is this request's answer
            return InvocationResult(error=f"onnxruntime: {exc}", error_code=ErrorCode.MODEL_ERROR)

    def _run_batch(self, s: _Session, feeds: list[dict[str, Any]]) -> list[InvocationResult]:
        np = self._np
        counts = [len(next(iter(f.values()))) for f in feeds]
        joined = {spec.name: np.concatenate([f[spec.name] for f in feeds]) for spec in s.inputs}
        try:
            outputs = self._run(s, joined)
        except Exception:  # noqa: BLE001 - one bad request must not fail the others: run them alone
            return [self._run_one(s, f) for f in feeds]
        total = sum(counts)
        if not all(hasattr(o, "__len__") and len(o) == total for o in outputs):
            return [self._run_one(s, f) for f in feeds]
        bounds = np.cumsum([0, *counts])
        return [self._answer(s, [o[start:end] for o in outputs]) for start, end in itertools.pairwise(bounds)]

    def unload(self, handle: ModelHandle) -> None:
        """Drop the session (worker thread)."""
        if isinstance(handle, _Session):
            handle.session = None

    def health(self, handle: ModelHandle) -> bool:
        """True while the session is open."""
        return isinstance(handle, _Session) and handle.session is not None and not self._closed

    def close(self) -> None:
        """Ask every run in progress to stop; later runs fail."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for options in running:
            options.terminate = True
