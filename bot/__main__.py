"""``python -m bot`` runs stoplive; ``python -m bot check`` says whether it can;
``python -m bot sandbox`` lets anyone try it in a terminal."""

from __future__ import annotations

import argparse
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
from bot.audit_logging import configure_logging, silence
from bot.config import ConfigError, load_settings
from bot.doctor import run_checks
from bot.slack.server import Transport
from bot.stopflow.allowlist_file import ALLOWLIST_POLL_SECONDS
from bot.stopflow.store import StateStore

DESCRIPTION = """\
stoplive: stop a Huawei Cloud MetaStudio livestream from Slack.

With no command, run the bot: Socket Mode if SLACK_APP_TOKEN is set, HTTP mode on PORT
otherwise, with the settings of the environment and ./.env (README: Configuration). It serves
until SIGTERM or SIGINT, letting confirmed stops finish (gone within 30 s)."""
RUN_EXIT_CODES = """\
exit codes:
  0  stopped by SIGTERM or SIGINT
  1  refused to start: a setting is wrong (each one named), Slack refused SLACK_APP_TOKEN,
     or PORT is taken
  2  the command line is wrong"""
CHECK_DESCRIPTION = """\
Check a configuration before relying on it: validate the settings, open the state store,
call Slack auth.test (and apps.connections.open in Socket Mode), make one signed, read-only
MetaStudio call and compare this machine's clock with MetaStudio's. One line per probe
(OK, WARN, FAIL with a "Fix:", or SKIP); each probe gives up after 10 s. Nothing is
changed, but for creating an absent SQLite state file."""
CHECK_EXIT_CODES = """\
exit codes:
  0  every probe is OK (a WARN is allowed)
  1  a probe failed: its line says what to fix
  2  the command line is wrong"""
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


def parser() -> argparse.ArgumentParser:
    """The command line, with ``--help`` for the program and for each command."""
    from bot.sandbox import cli as sandbox

    top = argparse.ArgumentParser(
        prog="python -m bot",
        description=DESCRIPTION,
        epilog=RUN_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.set_defaults(command=None)
    commands = top.add_subparsers(title="commands", metavar="{check,sandbox}")
    check = commands.add_parser(
        "check",
        help="check a configuration: one line per probe, exit 0 if all is well",
        description=CHECK_DESCRIPTION,
        epilog=CHECK_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "--logs",
        action="store_true",
        help="also write the operational log (at STOPLIVE_LOG_LEVEL, JSON lines) on stderr",
    )
    check.set_defaults(command="check")
    trial = commands.add_parser(
        "sandbox", help="try stoplive in this terminal, with nothing to set up"
    )
    sandbox.add_arguments(trial)
    trial.set_defaults(command=sandbox.run)
    return top


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    if callable(options.command):
        return int(options.command(options))
    level = os.environ.get("STOPLIVE_LOG_LEVEL", "INFO").upper()
    level = level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO"
    if options.command == "check":
        if options.logs:
            configure_logging(level)
        else:
            silence()  # its report is the whole output: no library's log line in between
        return asyncio.run(run_checks())
    configure_logging(level)
    try:
        asyncio.run(run())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
