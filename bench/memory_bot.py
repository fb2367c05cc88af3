"""stoplive with the in-memory state store, for ``bench/burst.py --store memory`` only.

    python -m bench.memory_bot   (reads the same environment variables as ``python -m bot``)

``python -m bot`` has no setting for memory (it would lose the journal on a restart, so no
deployment may choose it). To measure what the SQLite and Redis stores add, this runs the very
same app in a process of its own: ``bot.__main__.run`` with ``store=MemoryStore()`` (the seam
the tests use). Only the store differs.
"""

from __future__ import annotations

import asyncio
import os

from bot.__main__ import run
from bot.audit_logging import configure_logging
from bot.stopflow.store import MemoryStore


def main() -> None:
    configure_logging(os.environ.get("STOPLIVE_LOG_LEVEL", "INFO").upper())
    asyncio.run(run(store=MemoryStore()))


if __name__ == "__main__":
    main()
