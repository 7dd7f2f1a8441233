"""State stores: the `StateStore` port's adapters, and `open_store` to open one by URL (DESIGN.md §7).

```
sqlite:///relative.db  sqlite:////absolute/path.db  :memory:   SqliteStateStore (stdlib)
redis://host:port/db   rediss://...   unix:///path/redis.sock  RedisStateStore (redis extra)
```

Stores are found by URL scheme through the `actorserve.state` entry-point
group, so the runtime can open one without importing this package.
"""

from __future__ import annotations

from actorserve.adapters.state.open import known_schemes, open_store
from actorserve.adapters.state.redis_store import RedisStateStore
from actorserve.adapters.state.sqlite_store import SqliteStateStore

__all__ = ["RedisStateStore", "SqliteStateStore", "known_schemes", "open_store"]
