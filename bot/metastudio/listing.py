"""The lists :class:`~bot.metastudio.client.MetaStudioClient` reads: a room's jobs, the rooms,
the tenant-wide live jobs, the counts, and every live room's jobs at once; each paged to its end
(or :data:`MAX_PAGES`), a list cut short saying so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from bot.metastudio.errors import READ_FAILURES, MetaStudioError, UnreadableAnswer, UnusableAnswer
from bot.metastudio.ids import InvalidId, check_resource_id, check_room_name, path_segment
from bot.metastudio.models import (
    LIVE_ROOM_STATES,
    LIVE_STATES,
    JobState,
    Listing,
    RoomJobs,
    SmartLiveJob,
    SmartLiveRoom,
)
from bot.metastudio.transport import (
    MAX_READS_IN_FLIGHT,
    CallPlumbing,
    _json_object,
    _model,
    _request_id,
)

log = logging.getLogger("bot.metastudio")

PAGE_SIZE = 100
MAX_PAGES = 20  # 2,000 rooms, or live jobs: more is not a list to page (the list says it was cut)
# What a project whose policy (or region) does not allow the tenant-wide job list answers it.
TENANT_LIST_REFUSALS = (403, 404)

# What ends a list early (the deadline included); after its first page, what was read is kept.
_LIST_ENDINGS: tuple[type[Exception], ...] = (*READ_FAILURES, TimeoutError)

Entry = TypeVar("Entry", SmartLiveJob, SmartLiveRoom)


class _Page(BaseModel):
    """One page of a list answer: the entries are read one by one, after this."""

    model_config = ConfigDict(extra="ignore")
    count: int | None = None
    smart_live_jobs: list[dict[str, Any]] | None = None
    smart_live_rooms: list[dict[str, Any]] | None = None


class _PageRead(NamedTuple):
    entries: list[dict[str, Any]]
    response: httpx.Response
    total: int | None
    more: bool  # MetaStudio holds more after this page


def tenant_list_refused(exc: BaseException) -> bool:
    """MetaStudio will not give this project the tenant-wide job list (``ListSmartLiveJobs``):
    an older region without it, or a policy that allows the per-room reads only."""
    return isinstance(exc, MetaStudioError) and exc.status in TENANT_LIST_REFUSALS


class RoomLists(CallPlumbing):
    """The list calls of :class:`~bot.metastudio.client.MetaStudioClient`."""

    _prefix: str
    _tenant_jobs: str

    async def list_jobs(
        self, room_id: str, app_user_id: str, states: Iterable[JobState] | None = None
    ) -> list[SmartLiveJob]:
        """Every job of the room (in ``states``, if given), newest first, all pages read
        (at most :data:`MAX_PAGES`)."""
        path = (
            f"{self._prefix}/{path_segment(check_resource_id('room ID', room_id))}/smart-live-jobs"
        )
        params: dict[str, str | int] = {"sort_key": "create_time", "sort_dir": "desc"}
        if states is not None:
            params["state"] = ",".join(state.value for state in states)
        what = f"list the jobs of room {room_id}"
        listing = await self._listing(
            path, app_user_id, params, SmartLiveJob, what, defaults={"room_id": room_id}
        )
        if listing.stopped is not None:
            raise listing.stopped
        return list(listing.entries)

    async def list_live_jobs(
        self, app_user_id: str, *, deadline: float | None = None
    ) -> Listing[SmartLiveJob]:
        """Every live job of the project in one list (``ListSmartLiveJobs``, ``state=WAITING,
        PROCESSING``), each carrying its ``room_id`` and ``room_name``: one call per 100 live
        jobs instead of one per live room. Read until ``deadline`` (the event loop's clock) at
        most; what was read by then is kept, with why the rest is missing. A project that may
        not use it gets 403 or 404 (:func:`tenant_list_refused`)."""
        params: dict[str, str | int] = {"state": ",".join(s.value for s in LIVE_STATES)}
        return await self._listing(
            self._tenant_jobs, app_user_id, params, SmartLiveJob, "list the live jobs", deadline
        )

    async def list_rooms(
        self,
        app_user_id: str,
        *,
        room_name: str | None = None,
        live_only: bool = False,
        deadline: float | None = None,
    ) -> Listing[SmartLiveRoom]:
        """The project's rooms (``ListSmartLiveRooms``), every page read (at most
        :data:`MAX_PAGES`, until ``deadline`` at most): those whose name contains ``room_name``
        (MetaStudio matches it fuzzily), and only those with a live job if ``live_only``
        (``live_state=WAITING,PROCESSING``: a room whose job is still starting is live too).
        """
        params: dict[str, str | int] = {}
        if room_name is not None:
            params["room_name"] = check_room_name(room_name)
        if live_only:
            params["live_state"] = ",".join(state.value for state in LIVE_ROOM_STATES)
        return await self._listing(
            self._prefix, app_user_id, params, SmartLiveRoom, "list rooms", deadline
        )

    async def count_rooms(self, app_user_id: str) -> int:
        """How many rooms the project has: a cheap, read-only call that proves the
        credentials work (``python -m bot check``)."""
        return await self._count(self._prefix, app_user_id, {}, "count rooms")

    async def count_live_jobs(self, app_user_id: str) -> int:
        """How many live jobs the tenant-wide list holds: whether this project may use it
        (``python -m bot check``); 403 or 404 if not (:func:`tenant_list_refused`)."""
        params = {"state": ",".join(s.value for s in LIVE_STATES)}
        return await self._count(self._tenant_jobs, app_user_id, params, "count the live jobs")

    async def live_jobs_by_room(
        self,
        rooms: Sequence[SmartLiveRoom],
        app_user_id: str,
        *,
        states: Iterable[JobState] = LIVE_STATES,
        concurrency: int = MAX_READS_IN_FLIGHT,
        deadline: float | None = None,
    ) -> list[RoomJobs]:
        """Each room's jobs in ``states``, read ``concurrency`` rooms at a time, in the order
        of ``rooms``. A room whose jobs cannot be read (by ``deadline``, the event loop's clock,
        if given) carries its failure instead of jobs: the rooms read in time are kept."""
        wanted = tuple(states)
        gate = asyncio.Semaphore(max(concurrency, 1))

        async def read(room: SmartLiveRoom) -> RoomJobs:
            try:  # the room IDs came in MetaStudio's answer: one we will not send is its fault
                check_resource_id("a room ID MetaStudio listed", room.room_id)
            except InvalidId as exc:
                what = "list the jobs of a room MetaStudio listed"
                return RoomJobs(room=room, failure=UnusableAnswer(what, str(exc), room.request_id))
            try:
                async with asyncio.timeout_at(deadline), gate:
                    jobs = await self.list_jobs(room.room_id, app_user_id, wanted)
            except _LIST_ENDINGS as exc:
                return RoomJobs(room=room, failure=exc)
            return RoomJobs(room=room, jobs=tuple(jobs))

        return list(await asyncio.gather(*(read(room) for room in rooms)))

    async def _count(
        self, path: str, app_user_id: str, params: Mapping[str, str], what: str
    ) -> int:
        response = await self._call(
            "GET", path, app_user_id, params={**params, "limit": 1}, what=what
        )
        page = _model(_Page, _json_object(response, what), what, response)
        if page.count is None:
            raise UnreadableAnswer(what, "no count", _request_id(response))
        return page.count

    async def _listing(
        self,
        path: str,
        app_user_id: str,
        params: dict[str, str | int],
        model: type[Entry],
        what: str,
        deadline: float | None = None,
        *,
        defaults: dict[str, str] | None = None,
    ) -> Listing[Entry]:
        """Every page of a list read into ``model`` (``defaults`` under each entry), until
        ``deadline`` at most. A failure (or the deadline) on the first page is raised: there
        is no list. Later, it ends the list, kept as ``stopped``: what was read is worth
        showing, as long as the list says it is not all."""
        found: dict[str, Entry] = {}
        pages, count, more = 0, None, False
        try:
            async with asyncio.timeout_at(deadline):
                async for page in self._pages(path, app_user_id, params, what):
                    pages, count, more = pages + 1, page.total, page.more
                    request_id = _request_id(page.response)
                    for entry in page.entries:
                        data = {**(defaults or {}), **entry, "request_id": request_id}
                        item = _model(model, data, what, page.response)
                        found.setdefault(_key(item), item)  # paging while lists change repeats
        except _LIST_ENDINGS as exc:
            if not pages:
                raise
            log.warning("%s: stopped after %d pages: %s", what, pages, type(exc).__name__)
            return Listing(tuple(found.values()), total=count, stopped=exc)
        if more:
            log.warning("%s: stopped after %d pages of %d", what, MAX_PAGES, PAGE_SIZE)
        return Listing(tuple(found.values()), total=count, cut=more)

    async def _pages(
        self, path: str, app_user_id: str, params: dict[str, str | int], what: str
    ) -> AsyncIterator[_PageRead]:
        """Each page, ``offset``/``limit`` as documented (``offset`` counts entries), until
        ``count`` is reached (a short page ends the list only without a ``count``: a server
        that answers fewer than asked is read on, not taken at its word) or after
        :data:`MAX_PAGES`, then with ``more`` still True."""
        seen = 0
        for _ in range(MAX_PAGES):
            query = {**params, "offset": seen, "limit": PAGE_SIZE}
            response = await self._call("GET", path, app_user_id, params=query, what=what)
            page = _model(_Page, _json_object(response, what), what, response)
            entries = page.smart_live_jobs or page.smart_live_rooms or []
            seen += len(entries)
            if page.count is not None:
                more = bool(entries) and seen < page.count
            else:
                more = len(entries) >= PAGE_SIZE
            yield _PageRead(entries, response, page.count, more)
            if not more:
                return


def _key(entry: SmartLiveJob | SmartLiveRoom) -> str:
    return entry.job_id if isinstance(entry, SmartLiveJob) else entry.room_id
