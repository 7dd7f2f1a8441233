"""The one error tree of actorserve.

```
ActorServeError
 ├── ConfigError(ValueError)     a field of a config, entity or call is invalid (field=)
 ├── LifecycleError              a (state, event) pair the lifecycle does not allow (state=, event=)
 ├── ModelLoadError              an invoker could not load a version (version_id=)
 ├── InvocationError             an invoker call failed with a known code (code=)
 └── StateError                  a state store cannot be opened, read or written (url=)
```

Model failures during serving are never raised to callers: they become a
failed `ModelResponse` with an `ErrorCode`. These exceptions are for
programming and configuration errors, for invokers to signal a code, and for
state stores that are unreachable, locked, corrupt or of a newer schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actorserve.domain.enums import ErrorCode

__all__ = [
    "ActorServeError",
    "ConfigError",
    "InvocationError",
    "LifecycleError",
    "ModelLoadError",
    "StateError",
]


class ActorServeError(Exception):
    """Base of every error actorserve raises on purpose."""


class ConfigError(ActorServeError, ValueError):
    """A value is invalid; the message starts with the field's name."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class LifecycleError(ActorServeError):
    """A lifecycle event is not allowed in the current state."""

    def __init__(self, message: str, *, state: str, event: str) -> None:
        super().__init__(message)
        self.state = state
        self.event = event


class ModelLoadError(ActorServeError):
    """An invoker failed to load a model version."""

    def __init__(self, message: str, *, version_id: str) -> None:
        super().__init__(message)
        self.version_id = version_id


class InvocationError(ActorServeError):
    """An invoker call failed with a specific error code (e.g. OVERLOADED from a 429)."""

    def __init__(self, message: str, *, code: ErrorCode) -> None:
        super().__init__(message)
        self.code = code


class StateError(ActorServeError):
    """A state store could not be opened, read or written.

    The message is one line that starts with the store's URL (its password
    masked); `url` carries the same masked URL.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url
