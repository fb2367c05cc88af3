"""The terminal side of the sandbox: each message the bot sent, once, marked with where it went.

``(only you)`` is an ephemeral message (what only the person at the keyboard sees), ``#incidents``
and ``#audit`` are channel posts, and ``(updated)`` marks a message revised in place. The
buttons of the latest message are kept, numbered, for ``press N``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from bot.sandbox.mrkdwn import Button, Names, message, printable

ONLY_YOU = "(only you)"
INDENT = "  "


@dataclass(frozen=True)
class Latest:
    """The latest message and what a click on one of its buttons must tell the app."""

    buttons: list[Button]
    ephemeral: bool
    ts: str


class Transcript:
    def __init__(self, console: Console, names: Names) -> None:
        self.console = console
        self.names = names
        self.latest = Latest(buttons=[], ephemeral=True, ts="")

    def show(
        self, where: str, payload: Mapping[str, Any], *, updated: bool = False, ts: str = ""
    ) -> None:
        """Print one message the bot sent; its buttons become the ones ``press`` means.
        ``ts`` is a channel message's (ephemeral messages have none)."""
        shown = message(payload, self.names)
        header = Text("stoplive → ", style="dim")
        header.append(where, style="bold yellow" if where == ONLY_YOU else "bold green")
        if updated:
            header.append(" (updated)", style="dim")
        self.console.print()
        self.console.print(header)
        for line in shown.lines:
            self.console.print(Text(INDENT) + line)
        self.latest = Latest(buttons=shown.buttons, ephemeral=where == ONLY_YOU, ts=ts)

    def typed(self, prompt: str, line: str) -> None:
        """Echo a line that was not typed at a terminal (a script, a pipe) so transcripts read
        as a conversation."""
        self.console.print()
        self.console.print(Text(prompt, style="bold") + Text(printable(line)))

    def note(self, text: str | Text) -> None:
        """The sandbox's own words (not the bot's)."""
        for line in (text if isinstance(text, Text) else Text(text)).split("\n"):
            self.console.print(Text("» ", style="dim") + line, style="italic")

    def plain(self, text: Text | str = "") -> None:
        self.console.print(text)
