"""``python -m bot sandbox [--script FILE] [--logs]``: the terminal front of the sandbox.

Lines come from ``--script FILE`` first (echoed, so the output reads as a conversation), then
from standard input: typed at a prompt with readline history when it is a terminal, or piped
(echoed too), which makes the sandbox a scripted demo and a smoke test. ``quit``, the end of the
input, or Ctrl-C ends it with exit status 0. Output is plain text when it is not a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from bot.audit_logging import silence
from bot.sandbox import demo
from bot.sandbox.commands import parse
from bot.sandbox.mrkdwn import Names
from bot.sandbox.session import Sandbox
from bot.sandbox.transcript import Transcript

# slack_sdk and httpx send through these when set; the sandbox talks to loopback only.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")


DESCRIPTION = """\
Try stoplive in this terminal: the real bot against stand-ins of Slack and MetaStudio in this
process. No Slack app, no cloud account, no configuration; nothing leaves 127.0.0.1.

Type /stoplive commands as in Slack, press N to click a button, as NAME to be someone else,
fault KIND to make MetaStudio misbehave, help for the rest. Lines may be piped in:
python -m bot sandbox < examples/demo.txt"""
EXIT_CODES = """\
exit codes:
  0  quit, the end of the input, or Ctrl-C
  2  the command line is wrong, or --script FILE cannot be read"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options, on its own parser or on ``python -m bot``'s ``sandbox``."""
    parser.description, parser.epilog = DESCRIPTION, EXIT_CODES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--script", type=Path, metavar="FILE", help="replay FILE's lines first, then read input"
    )
    parser.add_argument(
        "--logs",
        action="store_true",
        help="also print stoplive's operational log (warnings and errors) on stderr; without "
        "it the conversation shows only what Slack would show",
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot sandbox")
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))


def run(options: argparse.Namespace) -> int:
    script: list[str] = []
    if options.script is not None:
        try:
            script = options.script.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            print(
                f"stoplive sandbox: cannot read {options.script}: {exc.strerror}", file=sys.stderr
            )
            return 2
    _loopback_only()
    for stream in (sys.stdin, sys.stdout):
        if isinstance(stream, io.TextIOWrapper):  # a line that is not UTF-8 is no reason to stop
            stream.reconfigure(errors="replace")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    _operational_log(shown=options.logs)
    console = Console(soft_wrap=True, highlight=False, markup=False, emoji=False)
    return asyncio.run(_converse(console, script))


def _operational_log(*, shown: bool) -> None:
    """The bot's log lines are for whoever runs it, not for the people in the conversation:
    Slack would never show them, so the sandbox does not either unless asked (``--logs``).
    """
    if shown:
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
    else:
        silence()


def _loopback_only() -> None:
    """Drop proxy settings from this process's environment: a proxy would take loopback calls
    elsewhere (httpx and slack_sdk both honour them)."""
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES:
            del os.environ[name]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"


async def _converse(console: Console, script: list[str]) -> int:
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - input() gains line editing and history
    quit_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, quit_requested.set)
    names = Names(
        users={p.slack_id: p.name for p in demo.PEOPLE.values()} | {"U0BOT": "stoplive"},
        channels=demo.CHANNELS,
    )
    # Fitted to a terminal, or to COLUMNS when it is set (a pipe is otherwise left whole).
    transcript = Transcript(console, names, fitted=console.is_terminal or "COLUMNS" in os.environ)
    with tempfile.TemporaryDirectory(prefix="stoplive-sandbox-") as state_dir:
        sandbox = Sandbox(transcript, Path(state_dir))
        try:
            await sandbox.start()
            sandbox.show_banner()
            pending = iter(script)
            while not quit_requested.is_set():
                prompt = f"{sandbox.user.name}> "
                line = next(pending, None)
                if line is None:
                    line = await _read(prompt, interactive, quit_requested)
                    if line is None:
                        break
                    if not interactive:
                        transcript.typed(prompt, line)
                else:
                    transcript.typed(prompt, line)
                if not await sandbox.run(parse(line, demo.PEOPLE)):
                    break
        finally:
            if sandbox.stoplive is not None and len(sandbox.stoplive.background):
                transcript.note("Letting the stop in progress finish first…")
            await sandbox.aclose()
    if interactive:
        console.print()
    return 0


async def _read(prompt: str, interactive: bool, quit_requested: asyncio.Event) -> str | None:
    """The next line of standard input, or None at its end (or on Ctrl-C). Read in a daemon
    thread, so that a Ctrl-C at the prompt never waits for a line that will not come."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str | None] = loop.create_future()

    def deliver(value: str | None) -> None:
        if not line.done():
            line.set_result(value)

    def read() -> None:
        value: str | None
        try:
            if interactive:
                value = input(prompt)
            else:
                raw = sys.stdin.readline()
                value = raw.rstrip("\r\n") if raw else None
        except (EOFError, KeyboardInterrupt, OSError):
            value = None
        with contextlib.suppress(RuntimeError):  # the loop may be gone already
            loop.call_soon_threadsafe(deliver, value)

    threading.Thread(target=read, name="sandbox-input", daemon=True).start()
    quit_wait = asyncio.ensure_future(quit_requested.wait())
    waiting: set[asyncio.Future[Any]] = {line, quit_wait}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        quit_wait.cancel()
    return line.result() if line.done() else None
