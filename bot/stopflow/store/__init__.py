"""What stoplive remembers beyond one process: once-only claims and the journal of stops.

The workflow is handed a :class:`StateStore` (built in ``bot/app.py``) and never knows which
one: Redis when several replicas share the work, a SQLite file by default, memory in unit tests.
"""

from bot.stopflow.store.base import JournalEntry, StateStore, StoreUnavailable
from bot.stopflow.store.memory import MemoryStore

__all__ = ["JournalEntry", "MemoryStore", "StateStore", "StoreUnavailable"]
