"""``python -m bot`` runs stoplive; ``python -m bot check`` says whether it can."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.app import build
from bot.audit_logging import configure_logging
from bot.config import ConfigError, load_settings
from bot.doctor import run_checks
from bot.server import Transport
from bot.stopflow.allowlist import ALLOWLIST_POLL_SECONDS

USAGE = "usage: python -m bot [check]"


async def run() -> None:
    settings = load_settings()
    logging.getLogger().setLevel(settings.stoplive_log_level)
    stoplive = build(settings)
    transport = Transport(stoplive)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, settings.allowlist.reload_soon)
    watcher = asyncio.create_task(settings.allowlist.watch(ALLOWLIST_POLL_SECONDS))
    await transport.open()
    await stop.wait()
    watcher.cancel()
    logging.getLogger("bot").info("shutting down: letting confirmed stops finish")
    await transport.close()


def main(argv: list[str]) -> int:
    configure_logging()
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
