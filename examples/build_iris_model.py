"""Train a small iris classifier with scikit-learn and export it to ONNX (examples/models/iris.onnx).

`make demo` runs this when the file is missing; it needs scikit-learn and
skl2onnx (the `test` extra has both) and downloads nothing: the iris data
ships with scikit-learn.
"""

from __future__ import annotations

import sys
from pathlib import Path

from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def build(path: Path) -> None:
    """Train on the bundled iris data and write the ONNX file to `path`."""
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    onnx_model = to_onnx(model, x[:1].astype("float32"), options={id(model): {"zipmap": False}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onnx_model.SerializeToString())
    print(f"wrote {path} (logistic regression, training accuracy {model.score(x, y):.3f})")


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "models" / "iris.onnx")
