"""What the person typed after ``/stoplive``, understood: help, a list, a room-name search, or IDs.

People in an incident know a stream by its name, so words are a search for room names; IDs
are what MetaStudio issues (UUIDs, or 32 hex digits). The two never overlap: an ID is *only*
one of those shapes, and a text that mixes an ID with anything but a second ID is refused
rather than guessed at (``<room_id> ../stop`` is a typo or an attack, never a room name).

:func:`parse` never raises anything but :class:`UsageError`, whose message is written for the
requester.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# 8-4-4-4-12 hex digits, or the same 32 without dashes; either case.
_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
QUERY_MAX = 64  # characters of a room-name search; MetaStudio names are at most 256
HELP_WORDS = ("help", "-h", "--help", "?")
LIST_WORDS = ("list",)
RECENT_WORDS = ("recent",)
# ``all``, alone and in any case (as ``list`` and ``help``): every live job, one confirmation.
# It is never a room-name search (the help says so): a room called "all" is found by its ID.
ALL_WORDS = ("all",)
_UNICODE_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class ListLive:
    """Nothing typed (or ``list``): every live job the requester may stop."""


@dataclass(frozen=True)
class ShowRecent:
    """``recent``: the last 24 h of stops, for the requester only."""


@dataclass(frozen=True)
class StopAll:
    """``all``: stop every live job the requester may stop (it needs the stop-all grant)."""


@dataclass(frozen=True)
class RoomSearch:
    """Words of a room's name: MetaStudio matches them fuzzily, as one query."""

    query: str


@dataclass(frozen=True)
class StopTarget:
    room_id: str
    job_id: str | None  # None: "whatever is live in this room"


Command = ListLive | ShowRecent | StopAll | RoomSearch | StopTarget
"""What needs MetaStudio, or the stop journal, to answer (help does not)."""


class UsageError(ValueError):
    """The text cannot be a stop request; the message says why, kindly, for the requester."""


def is_id(word: str) -> bool:
    """A MetaStudio room or job ID as people paste them: a UUID, with or without dashes."""
    return _ID.fullmatch(word) is not None and word.count("-") in (0, 4)


def parse(text: str) -> ShowHelp | Command:
    _refuse_invisible(text)
    words = _UNICODE_SPACES.split(text.strip()) if text.strip() else []
    if not words:
        return ListLive()
    if len(words) == 1 and words[0].lower() in HELP_WORDS:
        return ShowHelp()
    if len(words) == 1 and words[0].lower() in LIST_WORDS:
        return ListLive()
    if len(words) == 1 and words[0].lower() in RECENT_WORDS:
        return ShowRecent()
    if len(words) == 1 and words[0].lower() in ALL_WORDS:
        return StopAll()
    if is_id(words[0]):
        return _ids(words)
    if any(is_id(word) for word in words):
        raise UsageError(
            "that mixes words with an ID. Give words of a room's name, or its room ID (and job ID)."
        )
    query = " ".join(words)
    if len(query) > QUERY_MAX:
        raise UsageError(
            f"a room name to search for is at most {QUERY_MAX} characters; "
            f"that was {len(query)}. A word or two of the name is enough."
        )
    return RoomSearch(query)


def _ids(words: list[str]) -> StopTarget:
    if len(words) == 1:
        return StopTarget(room_id=words[0], job_id=None)
    if len(words) == 2 and is_id(words[1]):
        return StopTarget(room_id=words[0], job_id=words[1])
    if len(words) == 2:
        raise UsageError(
            "after the room ID I expected a job ID (a UUID such as "
            "26f06524-4f75-4b3a-a853-b649a21aaf66), or nothing."
        )
    raise UsageError(f"I expected a room ID and a job ID, but got {len(words)} words.")


def _refuse_invisible(text: str) -> None:
    """Control, format (bidi, zero-width), private-use and unassigned characters cannot be
    typed on purpose and would never match a name; say which, rather than search for them."""
    if text.isprintable():  # no "C" character at all: spares typed text the loop below
        return
    for char in text:
        if char.isspace():
            continue
        if unicodedata.category(char).startswith("C"):
            raise UsageError(
                f"the text contains an invisible or control character (U+{ord(char):04X}). "
                "Type the words again rather than pasting them."
            )
