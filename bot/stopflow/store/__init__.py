"""What stoplive remembers beyond one process: once-only claims and the journal of stops.

The workflow is handed a :class:`StateStore` (built in ``bot/app.py`` with :func:`open_store`)
and never knows which one: Redis when several replicas share the work, a SQLite file by
default, memory in unit tests.
"""

from bot.stopflow.store.base import (
    Claim,
    JournalEntry,
    Ownership,
    StateStore,
    StoreRefusesWrites,
    StoreUnavailable,
    Taken,
    entry_key,
)
from bot.stopflow.store.memory import MemoryStore
from bot.stopflow.store.redis import RedisStore
from bot.stopflow.store.sqlite import DEFAULT_STATE_FILE, SqliteStore


def open_store(redis_url: str | None, state_file: str) -> StateStore:
    """Redis at ``redis_url`` if one is given, else the SQLite file ``state_file``.

    Nothing is connected yet (call ``ping`` to find out); ValueError if the URL is not a
    Redis URL."""
    if redis_url and redis_url.strip():
        return RedisStore(redis_url.strip())
    return SqliteStore(state_file)


__all__ = [
    "DEFAULT_STATE_FILE",
    "Claim",
    "JournalEntry",
    "MemoryStore",
    "Ownership",
    "RedisStore",
    "SqliteStore",
    "StateStore",
    "StoreRefusesWrites",
    "StoreUnavailable",
    "Taken",
    "entry_key",
    "open_store",
]
