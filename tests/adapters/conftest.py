"""Models built at test time from scikit-learn's bundled iris data: no downloads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class IrisModels:
    """One logistic regression, saved in every format the invokers read."""

    estimator: Any
    rows: list[list[float]]
    onnx: Path  # probabilities as a plain tensor
    onnx_zipmap: Path  # probabilities as a list of {class: p} dicts
    skops: Path
    skops_forest: Path  # needs a type skops does not trust by default
    joblib: Path


@pytest.fixture(scope="session")
def iris(tmp_path_factory: pytest.TempPathFactory) -> IrisModels:
    import joblib
    import skops.io as sio
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    root = tmp_path_factory.mktemp("iris")
    sample = x[:1].astype("float32")
    (root / "iris.onnx").write_bytes(to_onnx(model, sample, options={id(model): {"zipmap": False}}).SerializeToString())
    (root / "iris-zipmap.onnx").write_bytes(to_onnx(model, sample).SerializeToString())
    sio.dump(model, root / "iris.skops")
    sio.dump(RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), root / "forest.skops")
    joblib.dump(model, root / "iris.joblib")
    return IrisModels(
        estimator=model,
        rows=x[::10].tolist(),
        onnx=root / "iris.onnx",
        onnx_zipmap=root / "iris-zipmap.onnx",
        skops=root / "iris.skops",
        skops_forest=root / "forest.skops",
        joblib=root / "iris.joblib",
    )
