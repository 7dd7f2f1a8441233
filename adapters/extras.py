"""One line that names the extra to install when an optional dependency is missing."""

from __future__ import annotations

from actorserve.domain.errors import ConfigError

__all__ = ["missing_extra"]


def missing_extra(package: str, extra: str, backend: str, *, kind: str = "invoker") -> ConfigError:
    """The error an adapter raises when `package` cannot be imported.

    Example: `invoker.onnx: onnxruntime is not installed; pip install 'actorserve[onnx]'`
    (`kind="state"` for a state store: `state.redis: ...`).
    """
    msg = f"{kind}.{backend}: {package} is not installed; pip install 'actorserve[{extra}]'"
    return ConfigError(msg, field=f"{kind}.{backend}")
