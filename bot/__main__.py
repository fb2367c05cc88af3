"""``python -m bot`` runs stoplive; ``python -m bot check`` says whether it can;
``python -m bot sandbox`` lets anyone try it in a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable

import anyio.lowlevel

from bot.app import build
from bot.audit_logging import configure_logging
from bot.config import ConfigError, load_settings
from bot.doctor import run_checks
from bot.server import Transport
from bot.stopflow.allowlist import ALLOWLIST_POLL_SECONDS
from bot.stopflow.store import StateStore

USAGE = "usage: python -m bot [check | sandbox]"
log = logging.getLogger("bot")


async def run(store: StateStore | None = None) -> None:
    """Serve until SIGTERM or SIGINT. ``store`` replaces the one the settings name (only
    ``bench/memory_bot.py`` does: no deployment may lose its journal on a restart)."""
    settings = load_settings()
    logging.getLogger().setLevel(settings.stoplive_log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, settings.allowlist.reload_soon)
    watcher = asyncio.create_task(settings.allowlist.watch(ALLOWLIST_POLL_SECONDS))
    transport = Transport(build(settings, store=store))
    await settle_start_up()
    try:
        if await until(transport.open(), stop):
            await until(transport.failure(), stop)  # raises if Slack refuses a token later
        log.info("shutting down: letting confirmed stops finish")
    finally:
        watcher.cancel()
        await transport.close()


async def settle_start_up() -> None:
    """Once everything is built, before the first request: nothing the first stop does should
    cost what start-up could have paid."""
    # httpcore reaches anyio's asyncio backend only on its first request: 20-40 ms of imports
    # that fell on the first stop after a start, in the middle of whatever acks were being
    # served (bench/burst.py). Imported now, it is also frozen below with the rest.
    await anyio.lowlevel.checkpoint()
    # What start-up built (every imported module, Bolt, pydantic's validators: ~90,000
    # objects) lives as long as the process, yet each full collection scanned it all: a
    # 30 ms pause falling on whatever ack was being served (bench/burst.py). Frozen, the
    # collector skips it.
    gc.collect()
    gc.freeze()


async def until(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Run ``work`` unless ``stop`` is set first (then cancel it): a SIGTERM while Slack is
    still being connected to must not wait for the connection. True if ``work`` finished."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        task.result()  # its error, if it failed
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


def main(argv: list[str]) -> int:
    if argv[:1] == ["sandbox"]:
        from bot.sandbox.cli import main as sandbox

        return sandbox(argv[1:])
    level = os.environ.get("STOPLIVE_LOG_LEVEL", "INFO").upper()
    configure_logging(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    if argv[:1] == ["check"]:
        return asyncio.run(run_checks())
    if argv:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        asyncio.run(run())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
