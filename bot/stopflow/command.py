"""What the person typed after ``/stoplive``, understood."""

from __future__ import annotations

from dataclasses import dataclass

from bot.metastudio.ids import InvalidId, check_resource_id


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class StopTarget:
    room_id: str
    job_id: str | None  # None: "whatever is live in this room"


class UsageError(ValueError):
    """The text cannot be a stop request; the message says why, kindly, for the requester."""


def parse(text: str) -> ShowHelp | StopTarget:
    words = text.split()
    if not words or words[0].lower() in ("help", "-h", "--help", "?"):
        return ShowHelp()
    if len(words) > 2:
        raise UsageError(f"I expected a room ID and a job ID, but got {len(words)} words.")
    try:
        room_id = check_resource_id("The room ID", words[0])
        job_id = check_resource_id("The job ID", words[1]) if len(words) == 2 else None
    except InvalidId as exc:
        raise UsageError(f"{exc}.") from None
    return StopTarget(room_id=room_id, job_id=job_id)
