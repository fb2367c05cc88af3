"""``python -m bot`` runs stoplive; ``python -m bot check`` says whether it can;
``python -m bot sandbox`` lets anyone try it in a terminal."""

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

USAGE = "usage: python -m bot [check | sandbox]"


async def run() -> None:
    stoplive = build(load_settings())
    transport = Transport(stoplive)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await transport.open()
    await stop.wait()
    logging.getLogger("bot").info("shutting down: letting confirmed stops finish")
    await transport.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["sandbox"]:
        from bot.sandbox.cli import main as sandbox

        return sandbox(argv[1:])
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
