"""The terminal side of the sandbox: each message the bot sent, once, marked with where it went.

``(only you)`` is an ephemeral message (what only the person at the keyboard sees), ``#incidents``
and ``#audit`` are channel posts, and ``(updated)`` marks a message revised in place. Every
message that has buttons now is kept, so that ``press N`` means the latest of them even when a
message without buttons (the #audit copy, a note) was printed after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from bot.sandbox.mrkdwn import Button, Names, message, printable
from bot.sandbox.wrap import fit

ONLY_YOU = "(only you)"
INDENT = "  "


@dataclass(frozen=True)
class Pressable:
    """A message with buttons, and what a click on one of them must tell the app."""

    key: str  # which message: a revision of it replaces it
    where: str
    buttons: list[Button]
    ephemeral: bool
    ts: str


class Transcript:
    def __init__(self, console: Console, names: Names, *, fitted: bool = False) -> None:
        """``fitted``: break lines at word boundaries to the console's width (a terminal, or
        COLUMNS set); otherwise each line is printed whole, as a pipe wants it."""
        self.console = console
        self.names = names
        self._fitted = fitted
        self._pressable: dict[str, Pressable] = {}  # oldest first
        self._last_key = ""

    def show(
        self,
        where: str,
        payload: Mapping[str, Any],
        *,
        key: str,
        updated: bool = False,
        ts: str = "",
    ) -> None:
        """Print one message the bot sent. ``key`` names the message (a revision has its
        original's), ``ts`` is a channel message's (ephemeral messages have none)."""
        shown = message(payload, self.names)
        header = Text("stoplive → ", style="dim")
        header.append(where, style="bold yellow" if where == ONLY_YOU else "bold green")
        if updated:
            header.append(" (updated)", style="dim")
        self.console.print()
        self.console.print(header)
        for line in shown.lines:
            self._print(line, INDENT, INDENT * 2)
        self._last_key = key
        self._pressable.pop(key, None)  # revised without buttons: they are gone
        if shown.buttons:
            self._pressable[key] = Pressable(
                key, where, shown.buttons, ephemeral=where == ONLY_YOU, ts=ts
            )

    def forget(self, key: str) -> None:
        """The message was deleted."""
        self._pressable.pop(key, None)

    def pressable(self) -> tuple[Pressable, bool] | None:
        """The latest message that has buttons, and whether it is the latest message of all."""
        if not self._pressable:
            return None
        latest = next(reversed(self._pressable.values()))
        return latest, latest.key == self._last_key

    def typed(self, prompt: str, line: str) -> None:
        """Echo a line that was not typed at a terminal (a script, a pipe) so transcripts read
        as a conversation."""
        self.console.print()
        self.console.print(Text(prompt, style="bold") + Text(printable(line)))

    def note(self, text: str | Text) -> None:
        """The sandbox's own words (not the bot's)."""
        for line in (text if isinstance(text, Text) else Text(text)).split("\n"):
            for piece in self._fit(line, "» ", "  "):
                piece.stylize("dim", 0, 1)
                self.console.print(piece, style="italic")

    def plain(self, text: Text | str = "", indent: str = "", hang: str | None = None) -> None:
        """A line of the sandbox's own, after ``indent``; wrapped lines start with ``hang``."""
        self._print(text if isinstance(text, Text) else Text(text), indent, hang)

    def _print(self, line: Text, first: str, rest: str | None) -> None:
        for piece in self._fit(line, first, rest):
            self.console.print(piece)

    def _fit(self, line: Text, first: str, rest: str | None) -> list[Text]:
        return fit(line, self.console.width if self._fitted else None, first, rest)
