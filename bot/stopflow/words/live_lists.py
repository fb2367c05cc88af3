"""The words of finding a job by room name or listing every live one: the list, what was
not read, and the misses. Each returns a :class:`~bot.stopflow.words.markup.Reply`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.metastudio.models import SmartLiveJob, SmartLiveRoom
from bot.stopflow.words.common import _MAX_ROOMS_LISTED, _choice, _command, _ids, _more, _reply
from bot.stopflow.words.markup import (
    MAX_BLOCKS,
    MESSAGE_CAP,
    NAME_CAP,
    Mrkdwn,
    Reply,
    context,
    data,
    join,
    room_label,
    section,
    words,
)


def _matching(query: str | None) -> Mrkdwn:
    return words(" matching {q}", q=data(query, NAME_CAP)) if query is not None else words("")


def _unreadable_rooms(unreadable: Sequence[tuple[SmartLiveRoom, str]]) -> Mrkdwn:
    """Which rooms' jobs could not be read, and why (the first few): a list that leaves them
    out must say so, or a live job there would look absent."""
    named = [
        words("{room} ({p})", room=room_label(room.room_id, room.room_name), p=data(problem, 120))
        for room, problem in unreadable[:_MAX_ROOMS_LISTED]
    ]
    if len(unreadable) > _MAX_ROOMS_LISTED:
        named.append(words(f"and {len(unreadable) - _MAX_ROOMS_LISTED} more"))
    n = len(unreadable)
    return words(
        f"⚠️ Couldn't read the jobs of {n} room{'s' if n != 1 else ''}: " + "{rooms}. A live "
        "job there is not listed; use {cmd} for that room.",
        rooms=join(", ", named),
        cmd=_command("<room_id>"),
    )


@dataclass(frozen=True)
class Shortfall:
    """A list of live jobs (``noun`` "live job") or of live rooms that was not read whole:
    ``read`` of MetaStudio's ``total`` (if it counted them), and ``problem``, why reading
    stopped (a failure or the deadline), or None if the list was cut at the page cap."""

    noun: str
    read: int
    total: int | None
    problem: str | None


def _how_many(n: int, noun: str, shortfall: Shortfall | None) -> str:
    """``2,000 live jobs``, or ``2,000+ live jobs`` when the list is not all there is."""
    return f"{n:,}{'+' if shortfall else ''} {noun}{'s' if n != 1 or shortfall else ''}"


def _shortfall(shortfall: Shortfall) -> Mrkdwn:
    """What a list left out: one sentence, so a live job it missed is not taken as none."""
    noun = shortfall.noun
    total = shortfall.total if shortfall.total and shortfall.total > shortfall.read else None
    counted = f" of the {total:,} MetaStudio counts" if total else ""
    if shortfall.problem is None:
        why = words(f"MetaStudio has more than the {shortfall.read:,} {noun}s read{counted}")
    else:
        why = words(
            "{p}, after " + f"{shortfall.read:,} {noun}s{counted}",
            p=data(shortfall.problem, 160),
        )
    return words(
        f"⚠️ Not every {noun} is listed: " + "{why}. Narrow it with {cmd}, or use {ids}.",
        why=why,
        cmd=_command("<words of a room name>"),
        ids=_command("<room_id>"),
    )


def not_read(
    unreadable: Sequence[tuple[SmartLiveRoom, str]], shortfall: Shortfall | None
) -> list[Mrkdwn]:
    """What a list of live jobs could not read, one sentence each (none if it was read whole):
    every list says it, so a live job it missed is never taken for none."""
    notes = [_shortfall(shortfall)] if shortfall else []
    if unreadable:
        notes.append(_unreadable_rooms(unreadable))
    return notes


def live_jobs(
    choices: Sequence[tuple[SmartLiveJob, str]],
    now: datetime,
    query: str | None = None,
    *,
    unreadable: Sequence[tuple[SmartLiveRoom, str]] = (),
    shortfall: Shortfall | None = None,
) -> Reply:
    """Live jobs across several rooms, grouped by room name (rooms in the order first seen),
    each with a "Stop…" button carrying the value the caller gave; as many as fit in Slack's
    50 blocks, then "…and N more" and how to narrow the list. ``unreadable``: rooms whose jobs
    could not be read, with why, and ``shortfall``: what the list left out, said under the
    head (whose counts then read "2,000+")."""
    groups: dict[str, list[tuple[SmartLiveJob, str]]] = {}
    for job, value in choices:
        groups.setdefault(job.room_id or "", []).append((job, value))
    count = len(choices)
    head = words(
        "*Choose the job to stop:* "
        + f"{_how_many(count, 'live job', shortfall)} in {_how_many(len(groups), 'room', shortfall)}"
        + "{m}.",
        m=_matching(query),
    )
    notes = not_read(unreadable, shortfall)
    blocks = [section(head), *(context(note) for note in notes)]
    budget = MAX_BLOCKS - 3  # head is in; keep room for "…and N more" and the footer
    shown = 0
    for room_id, jobs in groups.items():
        if len(blocks) + 2 > budget:
            break
        blocks.append(
            context(
                words(
                    "*{room}* · {ids}",
                    room=room_label(room_id, jobs[0][0].room_name),
                    ids=_ids(room_id),
                )
            )
        )
        for job, value in jobs:
            if len(blocks) + 1 > budget:
                break
            blocks.append(_choice(job, value, now))
            shown += 1
    blocks.extend(_more(count - shown, None))
    blocks.append(context(words("You confirm on the next screen. Nothing is stopped yet.")))
    return Reply(text=join("\n", [head, *notes]), blocks=blocks)


def nothing_live() -> Reply:
    """``/stoplive`` with nothing, and nothing live that the requester may stop."""
    return Reply(
        text=words(
            "✅ Nothing live: no room you may stop has a live job, so there is nothing to stop."
        )
    )


def jobs_unreadable(
    query: str | None,
    unreadable: Sequence[tuple[SmartLiveRoom, str]],
    shortfall: Shortfall | None = None,
) -> Reply:
    """No live job was seen, but some could not be read (rooms whose jobs failed, or a list
    not read whole): no button, and no claim that nothing is live."""
    notes = not_read(unreadable, shortfall)
    return _reply(
        words("⚠️ Couldn't tell which jobs are live{m}. Nothing was stopped.", m=_matching(query)),
        join("\n", notes),
        None,
    )


def no_room_matches(query: str, restricted: bool = False) -> Reply:
    """No room's name matches; ``restricted``: none of the rooms the requester may stop (the
    same words whether or not another room matches, so nothing about it is given away)."""
    rooms = "room you may stop" if restricted else "room"
    return Reply(
        text=words(
            f"🔍 No {rooms} matches " + "{q}. Check the name, or use the room ID. "
            "Nothing was stopped.",
            q=data(query, NAME_CAP),
        )
    )


def no_live_in_matches(query: str, rooms: Sequence[SmartLiveRoom]) -> Reply:
    """Rooms matched the words, but none has a live job: nothing to stop, and which rooms."""
    named = [room_label(r.room_id, r.room_name) for r in rooms[:_MAX_ROOMS_LISTED]]
    if len(rooms) > _MAX_ROOMS_LISTED:
        named.append(words(f"and {len(rooms) - _MAX_ROOMS_LISTED} more"))
    n = len(rooms)
    return Reply(
        text=words(
            f"✅ Nothing live: {n} room{'s match' if n != 1 else ' matches'} "
            + "{q}, but none has a "
            "live job, so there is nothing to stop. Rooms: {rooms}.",
            q=data(query, NAME_CAP),
            rooms=join(", ", named) if named else words("none"),
        )
    )


def rooms_unlisted(query: str | None, problem: str) -> Reply:
    """``ListSmartLiveRooms`` itself failed: no list, and the ID forms still work."""
    return _reply(
        words(
            "⚠️ Couldn't list the rooms{m}: {p}",
            m=_matching(query),
            p=data(problem, MESSAGE_CAP),
        ),
        words(
            "If you know the room ID, use {cmd}. Nothing was stopped.",
            cmd=_command("<room_id>"),
        ),
        None,
    )
