"""Finding the live jobs a requester may stop: of every room, or of the rooms a name matches.

Two ways to ask MetaStudio. The tenant-wide job list (``ListSmartLiveJobs``) gives every live
job with its room in one call per 100 jobs; the room-by-room reads (``ListSmartLiveRooms``,
then each live room's jobs) cost one call per live room: 50 live rooms at 100 ms a call are
listed in 1.06 s and 51 calls room by room, 0.11 s and 1 call with the tenant list
(bench/README.md). A project whose region or policy refuses the tenant list (403/404) is
read room by room instead, said once in the log, and the tenant list is tried again an hour
later. Whatever the way, a list that could not be read whole (cut
at the page cap, or stopped by a failure or the deadline) keeps what it read and says it is
not all: a live job left out must never look like no live job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.metastudio import (
    InvalidId,
    MetaStudioClient,
    MetaStudioError,
    RoomJobs,
    SmartLiveJob,
    SmartLiveRoom,
)
from bot.metastudio.ids import check_resource_id
from bot.metastudio.listing import tenant_list_refused
from bot.metastudio.models import Listing
from bot.stopflow.allowlist import Grant

log = logging.getLogger(__name__)

TENANT_LIST_RETRY = 3600.0  # seconds before a refused tenant list is asked again


@dataclass(frozen=True)
class Found:
    """The rooms looked at, each with its live jobs or why they could not be read; ``listing``
    is the list that named them (live jobs, or rooms) when it was not read whole, ``noun``
    says which."""

    rooms: list[RoomJobs]
    listing: Listing[SmartLiveJob] | Listing[SmartLiveRoom] | None = None
    noun: str = "live job"


class LiveFinder:
    """One per process: it remembers whether this project may use the tenant list."""

    def __init__(self, metastudio: MetaStudioClient) -> None:
        self._metastudio = metastudio
        self._refused_at: float | None = None

    async def everything(self, grant: Grant, deadline: float) -> Found:
        """Every live job in the rooms ``grant`` covers, read by ``deadline``."""
        listing = await self._tenant_list(grant, deadline)
        if listing is not None:
            jobs = [job for job in listing.entries if grant.covers(job.room_id or "")]
            return Found(_by_room(jobs), None if listing.complete else listing)
        rooms = await self._metastudio.list_rooms(
            grant.app_user_id, live_only=True, deadline=deadline
        )
        return await self._room_by_room(grant, rooms, _covered(grant, rooms), deadline)

    async def matching(self, grant: Grant, query: str, deadline: float) -> Found:
        """The live jobs in the rooms whose name matches ``query`` (MetaStudio's own fuzzy
        match) that ``grant`` covers. The tenant list replaces the rooms' reads when it saves
        calls (more than one room); a room it did not reach (a list cut or stopped) is read on
        its own."""
        rooms = await self._metastudio.list_rooms(
            grant.app_user_id, room_name=query, live_only=True, deadline=deadline
        )
        covered = _covered(grant, rooms)
        listing = await self._tenant_list(grant, deadline) if len(covered) > 1 else None
        if listing is None:
            return await self._room_by_room(grant, rooms, covered, deadline)
        wanted = {room.room_id: room for room in covered}
        jobs = [job for job in listing.entries if job.room_id in wanted]
        found = {entry.room.room_id: entry for entry in _by_room(jobs)}
        unseen = [] if listing.complete else [r for r in covered if r.room_id not in found]
        read = await self._metastudio.live_jobs_by_room(
            unseen, grant.app_user_id, deadline=deadline
        )
        found.update((entry.room.room_id, entry) for entry in read)
        entries = [found.get(r.room_id) or RoomJobs(room=r) for r in covered]
        return Found(entries, None if rooms.complete else rooms, "live room")

    async def _room_by_room(
        self,
        grant: Grant,
        rooms: Listing[SmartLiveRoom],
        covered: list[SmartLiveRoom],
        deadline: float,
    ) -> Found:
        """Each of the ``covered`` live rooms' jobs, read a few rooms at a time."""
        found = await self._metastudio.live_jobs_by_room(
            covered, grant.app_user_id, deadline=deadline
        )
        return Found(found, None if rooms.complete else rooms, "live room")

    async def _tenant_list(self, grant: Grant, deadline: float) -> Listing[SmartLiveJob] | None:
        """The tenant list, or None if this project may not use it (then read room by room)."""
        now = asyncio.get_running_loop().time()
        if self._refused_at is not None and now - self._refused_at < TENANT_LIST_RETRY:
            return None
        try:
            listing = await self._metastudio.list_live_jobs(grant.app_user_id, deadline=deadline)
        except MetaStudioError as exc:
            if not tenant_list_refused(exc):
                raise
            if self._refused_at is None:
                log.warning(
                    "MetaStudio refused the tenant-wide job list (ListSmartLiveJobs: %s): "
                    "listing live jobs room by room (one call per live room) and asking again "
                    "every %.0f minutes",
                    exc,
                    TENANT_LIST_RETRY / 60,
                )
            self._refused_at = now
            return None
        if self._refused_at is not None:
            log.warning("MetaStudio now gives the tenant-wide job list: using it again")
            self._refused_at = None
        return listing


def _covered(grant: Grant, rooms: Listing[SmartLiveRoom]) -> list[SmartLiveRoom]:
    """The listed rooms ``grant`` covers: no other room's jobs are read."""
    return [room for room in rooms.entries if grant.covers(room.room_id)]


def _by_room(jobs: Sequence[SmartLiveJob]) -> list[RoomJobs]:
    """The tenant list's jobs grouped by room, as room-by-room reads would give them; a job
    whose room ID is missing or could not go into a button (and back into a URL) makes its
    room unreadable rather than offering a button."""
    rooms: dict[str, list[SmartLiveJob]] = {}
    for job in jobs:
        rooms.setdefault(job.room_id or "", []).append(job)
    found: list[RoomJobs] = []
    for room_id, room_jobs in rooms.items():
        room = SmartLiveRoom(room_id=room_id, room_name=room_jobs[0].room_name)
        try:
            check_resource_id("a room ID MetaStudio listed", room_id)
        except InvalidId as exc:
            found.append(RoomJobs(room=room, failure=exc))
            continue
        found.append(RoomJobs(room=room, jobs=tuple(room_jobs)))
    return found
