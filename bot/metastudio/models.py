"""Typed answers from MetaStudio.

Huawei adds fields to its answers over time; every model ignores what it does not know, so a
new field never breaks a stop during an incident. Each answer keeps the ``X-Request-Id`` that
carried it: that is what Huawei support asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class JobState(StrEnum):
    """Every job state stoplive knows. Huawei's models name ended jobs differently
    (``SUCCEED`` in a job, ``SUCCESS`` in the rooms filter, ``CANCELED`` in a room's last job),
    so all of them are here; anything else is :attr:`Liveness.UNKNOWN`, never "ended"."""

    WAITING = "WAITING"
    PROCESSING = "PROCESSING"
    SUCCEED = "SUCCEED"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    BLOCKED = "BLOCKED"

    @property
    def is_live(self) -> bool:
        """Still running (or about to): stopping it means something."""
        return self in LIVE_STATES


class Liveness(StrEnum):
    """What a job's state means for a stop: the one place a state is classified."""

    LIVE = "live"  # WAITING, PROCESSING: a stop means something
    ENDED = "ended"  # SUCCEED, SUCCESS, FAILED, CANCELED, BLOCKED: nothing left to stop
    UNKNOWN = "unknown"  # a state stoplive does not know: never announced as ended


LIVE_STATES: tuple[JobState, ...] = (JobState.WAITING, JobState.PROCESSING)
ENDED_STATES: tuple[JobState, ...] = tuple(s for s in JobState if s not in LIVE_STATES)


def liveness(state: str) -> Liveness:
    """``state`` as MetaStudio wrote it, classified (exact spelling: MetaStudio's are upper
    case, and a state spelt otherwise is not one we know)."""
    try:
        known = JobState(state)
    except ValueError:
        return Liveness.UNKNOWN
    return Liveness.LIVE if known.is_live else Liveness.ENDED


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SmartLiveJob(_Answer):
    job_id: str
    room_id: str | None = None
    room_name: str | None = None
    state: str = Field(description="A JobState value, kept as text so an unknown state survives")
    duration: float | None = None
    start_time: str | None = None
    end_time: str | None = None
    create_time: str | None = None
    lastupdate_time: str | None = None
    error_info: dict[str, object] | None = None
    block_reason: str | None = None  # why Huawei blocked the job (a compliance "special exit")
    request_id: str = ""
    # Whether MetaStudio's answer named the job's room (a read of one job fills ``room_id``
    # with the room asked when it did not): only a named room proves where the job is.
    room_named: bool = True

    @property
    def known_state(self) -> JobState | None:
        try:
            return JobState(self.state)
        except ValueError:
            return None

    @property
    def liveness(self) -> Liveness:
        return liveness(self.state)

    @property
    def is_live(self) -> bool:
        return self.liveness is Liveness.LIVE

    @property
    def has_ended(self) -> bool:
        """Seen in a state that is known to be over; an unknown state has not ended."""
        return self.liveness is Liveness.ENDED

    @property
    def end_reason(self) -> str | None:
        """Why the job ended, as MetaStudio says it (``block_reason``, then ``error_info``'s
        code and message), raw: the caller makes it safe to show. None when it says nothing."""
        parts = [self.block_reason or ""]
        if self.error_info:
            code, message = self.error_info.get("error_code"), self.error_info.get("error_msg")
            parts.append(": ".join(str(part) for part in (code, message) if part))
        shown = " · ".join(part.strip() for part in parts if part and part.strip())
        return shown or None

    @property
    def started_at(self) -> datetime | None:
        return parse_time(self.start_time)

    @property
    def ended_at(self) -> datetime | None:
        return parse_time(self.end_time)


class SmartLiveRoom(_Answer):
    """One room, as ``ShowSmartLiveRoom`` or a ``ListSmartLiveRooms`` entry describes it."""

    room_id: str
    room_name: str | None = None
    room_description: str | None = None
    room_type: str | None = None
    room_state: str | None = None
    create_time: str | None = None
    update_time: str | None = None
    last_job_start_time: str | None = None
    last_job_end_time: str | None = None
    last_job_status: str | None = None
    request_id: str = ""


class StopAccepted(_Answer):
    """MetaStudio answered 2xx to a stop: the job has been told to stop."""

    request_id: str


class RoomStateFilter(StrEnum):
    """``live_state`` values of ``ListSmartLiveRooms``: the state of the room's live job (named
    unlike :class:`JobState`: ``SUCCESS``, ``CANCELED``), ``NULL`` for a room with no job."""

    WAITING = "WAITING"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    NULL = "NULL"


LIVE_ROOM_STATES = (RoomStateFilter.WAITING, RoomStateFilter.PROCESSING)
"""The rooms filter's names for :data:`LIVE_STATES`: a room whose job is starting is live too."""


@dataclass(frozen=True)
class RoomJobs:
    """A room and its jobs in the asked states; ``failure`` says why they could not be read
    (then ``jobs`` is empty), so one bad room never hides the others."""

    room: SmartLiveRoom
    jobs: tuple[SmartLiveJob, ...] = ()
    failure: Exception | None = None


Entry = TypeVar("Entry")


@dataclass(frozen=True)
class Listing(Generic[Entry]):
    """What a paged list gave, and whether that is all of it: a list that stopped early
    (``cut`` at the page cap, or ``stopped`` by a failure or the deadline after its first
    page) still shows what it read, and must say what it did not."""

    entries: tuple[Entry, ...]
    total: int | None = None  # MetaStudio's ``count``, if it gave one
    cut: bool = False  # the page cap was reached with more to come
    stopped: Exception | None = None  # why reading ended before the last page

    @property
    def complete(self) -> bool:
        return not self.cut and self.stopped is None


def parse_time(value: object) -> datetime | None:
    """MetaStudio and IAM write UTC times as ISO 8601 (``2024-07-04T08:00:00Z``); None if the
    value is missing, not text, or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
