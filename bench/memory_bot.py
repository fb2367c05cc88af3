"""stoplive with the in-memory state store, for ``bench/burst.py --store memory`` only.

    python -m bench.memory_bot   (reads the same environment variables as ``python -m bot``)

``python -m bot`` has no setting for memory (it would lose the journal on a restart, so no
deployment may choose it). To measure what the SQLite and Redis stores add, this runs the very
same app in a process of its own, built by :func:`bot.app.build` with ``store=MemoryStore()``
(the seam the tests use) and served by the same :class:`bot.server.Transport`, in the order
``bot.__main__.run`` does it: only the store differs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from bot.__main__ import until
from bot.app import build
from bot.audit_logging import configure_logging
from bot.config import load_settings
from bot.server import Transport
from bot.stopflow.allowlist import ALLOWLIST_POLL_SECONDS
from bot.stopflow.store import MemoryStore


async def run() -> None:
    settings = load_settings()
    logging.getLogger().setLevel(settings.stoplive_log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(settings.allowlist.watch(ALLOWLIST_POLL_SECONDS))
    transport = Transport(build(settings, store=MemoryStore()))
    try:
        if await until(transport.open(), stop):
            await stop.wait()
    finally:
        watcher.cancel()
        await transport.close()


def main() -> None:
    configure_logging(os.environ.get("STOPLIVE_LOG_LEVEL", "INFO").upper())
    asyncio.run(run())


if __name__ == "__main__":
    main()
