"""SklearnInvoker: scikit-learn estimators loaded from `.skops` files, never pickle by default.

skops refuses to build any type it does not trust. The types a file needs
beyond skops' defaults are listed up front by `get_untrusted_types`; the
version must name each in `parameters.trusted_types`, or loading fails with
the list. Pickle and joblib files run arbitrary code when loaded, so they are
refused unless the version sets `allow_pickle = true`, and even then a warning
names the risk.

Requests carry rows: `{"instances": [[5.1, 3.5, 1.4, 0.2], ...]}` (also
accepted under "X" or "inputs"). The answer has `predict` and, when the
estimator has it, `predict_proba` (choose with `parameters.outputs`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actorserve.adapters.base import BatchInvoker
from actorserve.adapters.extras import missing_extra
from actorserve.adapters.params import model_path, param
from actorserve.domain.entities import ModelRequest, ModelVersion
from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import ConfigError, ModelLoadError
from actorserve.domain.ports import InvocationResult, ModelHandle

__all__ = ["SklearnInvoker"]

log = logging.getLogger(__name__)

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_INPUT_KEYS = ("instances", "X", "inputs")
_OUTPUTS = ("predict", "predict_proba")


@dataclass(slots=True)
class _Model:
    estimator: Any
    outputs: tuple[str, ...]
    n_features: int | None
    allow_nonfinite: bool


class _InvalidInputError(ValueError):
    """One request's rows do not fit the estimator."""


class SklearnInvoker(BatchInvoker):
    """Serves scikit-learn estimators (entry point `sklearn`; extra `actorserve[sklearn]`).

    Args:
        trusted_types: types every version may load beyond skops' defaults
            (a version adds its own with `parameters.trusted_types`).
    """

    def __init__(self, trusted_types: Sequence[str] = ()) -> None:
        try:
            import numpy
            import skops.io
        except ImportError:
            raise missing_extra("skops", "sklearn", "sklearn") from None
        if isinstance(trusted_types, str) or not all(isinstance(t, str) for t in trusted_types):
            raise ConfigError("trusted_types: must be a list of type names", field="trusted_types")
        self._np = numpy
        self._sio = skops.io
        self._trusted = tuple(trusted_types)

    def validate(self, version: ModelVersion) -> None:
        """Check the version's parameters (runtime.register calls this).

        Raises:
            ConfigError: naming the parameter, including a pickle file without `allow_pickle`.
        """
        path = model_path(version)
        trusted = param(version, "trusted_types", list, [])
        if not all(isinstance(t, str) for t in trusted):  # type: ignore[attr-defined]
            raise ConfigError(
                "parameters.trusted_types: must be a list of type names", field="parameters.trusted_types"
            )
        outputs = param(version, "outputs", list, list(_OUTPUTS))
        unknown = [o for o in outputs if o not in _OUTPUTS]  # type: ignore[attr-defined]
        if unknown or not outputs:
            msg = f"parameters.outputs: must be a non-empty list of {', '.join(_OUTPUTS)} (got {outputs!r})"
            raise ConfigError(msg, field="parameters.outputs")
        param(version, "allow_nonfinite", bool)
        allow_pickle = param(version, "allow_pickle", bool, False)
        if path.suffix.lower() in _PICKLE_SUFFIXES and not allow_pickle:
            msg = (
                f"parameters.allow_pickle: {path.name} is a pickle file, which runs arbitrary code when loaded;"
                " convert it to .skops, or set allow_pickle = true if you trust its source"
            )
            raise ConfigError(msg, field="parameters.allow_pickle")

    def load(self, version: ModelVersion) -> ModelHandle:
        """Load the estimator for one replica (worker thread)."""
        self.validate(version)
        path = model_path(version)
        if not path.is_file():
            raise ModelLoadError(f"model_path: no such file: {path}", version_id=version.version_id)
        if path.suffix.lower() in _PICKLE_SUFFIXES:
            log.warning(
                "loading pickle file %s: unpickling runs any code the file contains; load only files you trust",
                path.name,
                extra={"model": version.model_name, "version": version.version_id},
            )
            import joblib

            estimator = joblib.load(path)
        else:
            allowed = {*self._trusted, *param(version, "trusted_types", list, [])}  # type: ignore[misc]
            try:
                needed = self._sio.get_untrusted_types(file=path)
            except Exception as exc:  # noqa: BLE001 - any reader error means the file cannot load
                raise ModelLoadError(
                    f"cannot read {path.name} as a skops file: {exc}", version_id=version.version_id
                ) from None
            refused = [t for t in needed if t not in allowed]
            if refused:
                msg = (
                    f"{path.name} needs types that are not trusted: {', '.join(refused)};"
                    " list them in parameters.trusted_types if you trust this file"
                )
                raise ModelLoadError(msg, version_id=version.version_id)
            estimator = self._sio.load(path, trusted=needed)
        if not hasattr(estimator, "predict"):
            raise ModelLoadError(
                f"{path.name}: {type(estimator).__name__} has no predict method", version_id=version.version_id
            )
        wanted = param(version, "outputs", list, list(_OUTPUTS))
        outputs = tuple(o for o in wanted if hasattr(estimator, o))  # type: ignore[attr-defined]
        n_features = getattr(estimator, "n_features_in_", None)
        return _Model(
            estimator=estimator,
            outputs=outputs,
            n_features=n_features if isinstance(n_features, int) else None,
            allow_nonfinite=bool(param(version, "allow_nonfinite", bool, False)),
        )

    def _rows(self, m: _Model, data: dict[str, object]) -> Any:
        np = self._np
        key = next((k for k in _INPUT_KEYS if k in data), None)
        if key is None or len(data) != 1:
            raise _InvalidInputError(
                f"input_data: expected one key of {', '.join(_INPUT_KEYS)} holding rows (got {sorted(data)})"
            )
        where = f"input_data.{key}"
        try:
            rows = np.asarray(data[key])
        except ValueError as exc:
            raise _InvalidInputError(f"{where}: rows of different lengths ({exc})") from None
        if rows.ndim != 2:
            raise _InvalidInputError(f"{where}: must be a list of rows (2-D), got {rows.ndim}-D")
        if m.n_features is not None and rows.shape[1] != m.n_features:
            raise _InvalidInputError(f"{where}: rows have {rows.shape[1]} features, the model expects {m.n_features}")
        if rows.dtype.kind == "O":
            raise _InvalidInputError(f"{where}: rows mix types or hold nulls")
        if rows.dtype.kind == "b":
            rows = rows.astype("float64")
        if rows.dtype.kind == "f" and not m.allow_nonfinite and not np.all(np.isfinite(rows)):
            raise _InvalidInputError(f"{where}: contains NaN or infinity (set parameters.allow_nonfinite to accept)")
        return rows

    def _predict(self, m: _Model, rows: Any) -> dict[str, Any]:
        return {name: getattr(m.estimator, name)(rows) for name in m.outputs}

    def _predict_group(self, m: _Model, group: list[Any]) -> list[InvocationResult]:
        np = self._np
        try:
            predicted = self._predict(m, np.concatenate(group))
        except Exception as exc:  # noqa: BLE001 - the estimator's error is the answer
            if len(group) > 1:  # find the request that broke it: the others still get answers
                return [r for rows in group for r in self._predict_group(m, [rows])]
            return [InvocationResult(error=f"{type(exc).__name__}: {exc}", error_code=ErrorCode.MODEL_ERROR)]
        bounds = np.cumsum([0, *(len(rows) for rows in group)])
        return [
            InvocationResult(output={k: v[start:end].tolist() for k, v in predicted.items()})
            for start, end in itertools.pairwise(bounds)
        ]

    def invoke_batch(
        self, handle: ModelHandle, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        """Stack every valid request's rows into one `predict` call, then split the answers (worker thread)."""
        assert isinstance(handle, _Model)
        results: list[InvocationResult | None] = [None] * len(requests)
        valid: list[tuple[int, Any]] = []
        for i, request in enumerate(requests):
            try:
                valid.append((i, self._rows(handle, request.input_data)))
            except _InvalidInputError as exc:
                results[i] = InvocationResult(error=str(exc), error_code=ErrorCode.INVALID_INPUT)
        if valid:
            kinds = {rows.dtype.kind for _, rows in valid}
            groups = [valid] if len(kinds) == 1 else [[v] for v in valid]  # never coerce strings and numbers together
            for group in groups:
                for (i, _), result in zip(group, self._predict_group(handle, [rows for _, rows in group]), strict=True):
                    results[i] = result
        return [r for r in results if r is not None]

    def unload(self, handle: ModelHandle) -> None:
        """Drop the estimator."""
        if isinstance(handle, _Model):
            handle.estimator = None

    def health(self, handle: ModelHandle) -> bool:
        """True while the estimator is loaded."""
        return isinstance(handle, _Model) and handle.estimator is not None

    def close(self) -> None:
        """Nothing shared to release: estimators live in their handles."""
