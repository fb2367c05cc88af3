"""What can be typed at the sandbox prompt, and how one line becomes one command.

:func:`parse` turns any line into a command or an :class:`InputError` whose message says what
would have worked: a mistyped line at a prompt is a conversation, never a traceback.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

SLASH = "/stoplive"


class FaultKind(StrEnum):
    """MetaStudio misbehaviours one can ask for: the next stop only, or (``no-job-list``) from
    now on; or (``fails``, ``blocked``) a live stream ending on its own, for the stream watch."""

    STOP_500 = "500"
    REFUSED = "refused"
    LOST_ANSWER = "lost-answer"
    STAYS_LIVE = "stays-live"
    NO_JOB_LIST = "no-job-list"
    FAILS = "fails"
    BLOCKED = "blocked"

    @property
    def ends_a_stream(self) -> bool:
        """A stream ends on its own now (nothing waits for the next stop)."""
        return self in (FaultKind.FAILS, FaultKind.BLOCKED)

    @property
    def description(self) -> str:
        return _FAULT_DESCRIPTIONS[self]


_FAULT_DESCRIPTIONS = {
    FaultKind.STOP_500: "MetaStudio answers the next stop (and its retries) with HTTP 500",
    FaultKind.REFUSED: "MetaStudio refuses the next stop (HTTP 400 MSS.00000003); the job stays live",
    FaultKind.LOST_ANSWER: "the next stop is applied, but its answer never arrives",
    FaultKind.STAYS_LIVE: "the next stop is accepted, but the job keeps running",
    FaultKind.NO_JOB_LIST: "MetaStudio refuses its tenant-wide job list (404, as older regions "
    "do): /stoplive lists room by room",
    FaultKind.FAILS: "the longest-live stream dies with an error on its own (the watch tells #oncall)",
    FaultKind.BLOCKED: "Huawei blocks the longest-live stream (the watch tells #oncall)",
}


@dataclass(frozen=True)
class SlashCommand:
    """``/stoplive …`` as the current user would type it in Slack; ``text`` is what follows."""

    text: str


@dataclass(frozen=True)
class Press:
    number: int  # 1-based, as printed beside the button


@dataclass(frozen=True)
class SwitchUser:
    name: str


@dataclass(frozen=True)
class InjectFault:
    fault: FaultKind


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Nothing:
    """A blank line or a ``#`` comment (scripts may carry notes)."""


Command = SlashCommand | Press | SwitchUser | InjectFault | Help | Quit | Nothing


@dataclass(frozen=True)
class InputError:
    """A line that is not a command; ``message`` says what would have worked."""

    message: str


def parse(line: str, users: Collection[str]) -> Command | InputError:
    """One line of input; ``users`` are the names ``as`` accepts."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return Nothing()
    word, _, rest = stripped.partition(" ")
    rest = rest.strip()
    lowered = word.lower()
    if lowered == SLASH:
        return SlashCommand(rest)
    if word.startswith("/"):
        return InputError(f"Only {SLASH} is installed here, not {word}. Try: {SLASH} help")
    if lowered == "press":
        return _press(rest)
    if lowered == "as":
        return _switch(rest, users)
    if lowered == "fault":
        return _fault(rest)
    if lowered == "help" and not rest:
        return Help()
    if lowered in ("quit", "exit") and not rest:
        return Quit()
    return InputError(f"I don't know {_quote(stripped)}. Type help to see what you can do.")


def _press(rest: str) -> Press | InputError:
    if rest.isascii() and rest.isdigit() and 0 < int(rest) < 1000:
        return Press(int(rest))
    return InputError("press needs a button number, as printed: press 1")


def _switch(rest: str, users: Collection[str]) -> SwitchUser | InputError:
    if rest.lower() in users:
        return SwitchUser(rest.lower())
    return InputError("as needs one of: " + " | ".join(f"as {user}" for user in users))


def _fault(rest: str) -> InjectFault | InputError:
    try:
        return InjectFault(FaultKind(rest.lower()))
    except ValueError:
        choices = "\n".join(f"  fault {f.value:<12} {f.description}" for f in FaultKind)
        return InputError("fault needs one of:\n" + choices)


def _quote(text: str, limit: int = 40) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(shown)
