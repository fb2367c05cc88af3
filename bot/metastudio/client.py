"""An async client for the MetaStudio smart-live calls stoplive needs.

One shared ``httpx.AsyncClient`` (connections are reused across calls), explicit timeouts, and
a retry loop that knows a stop from a read. Authentication is whatever ``httpx.Auth`` it is
given; the client never looks at credentials. Every answer is read into a typed model or
refused as :class:`UnreadableAnswer`; every answer's ``Date`` header tells how far this
machine's clock is off (:attr:`MetaStudioClient.clock_skew_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.metastudio.auth import token_request_failure
from bot.metastudio.errors import (
    CLOCK_SKEW_WARNING,
    READ_FAILURES,
    AboutAnotherRoom,
    IamError,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
    UnusableAnswer,
    clock_skew_words,
)
from bot.metastudio.ids import (
    InvalidId,
    check_app_user_id,
    check_resource_id,
    check_room_name,
    path_segment,
)
from bot.metastudio.models import (
    LIVE_ROOM_STATES,
    LIVE_STATES,
    JobState,
    Listing,
    RoomJobs,
    SmartLiveJob,
    SmartLiveRoom,
    StopAccepted,
)
from bot.metastudio.retry import RetryPolicy, parse_retry_after
from bot.metastudio.text import parse_http_date, safe_text

log = logging.getLogger("bot.metastudio")

USER_AGENT = "stoplive/0.1 (+httpx)"
DEFAULT_TIMEOUT = httpx.Timeout(8.0, connect=3.0, pool=3.0)
# Requests in flight at once. httpcore's pool scans every queued request against every
# connection (and asks each connection's socket whether it expired) on each change, so its CPU
# cost grows with the square of what is queued: a 200-request burst cost whole seconds of CPU
# (bench/burst.py). Requests wait here, in a cheap FIFO, instead. 8 measured fastest against
# the local stand-in (bench/client_vs_sdk.py); with a 200 ms round trip it still allows 40
# calls a second per process, far more than any incident needs.
MAX_IN_FLIGHT = 8
# Of those, reads (a job watched after its stop, the lookups before a confirmation, a list of
# every room) take at most this many: a stop never queues behind a 50-room list or the
# watches of a burst of stops. The stop is the call that matters at 3 a.m.
MAX_READS_IN_FLIGHT = MAX_IN_FLIGHT - 2
# Absolute URLs kept per path. httpx parses a relative path, then the merge with base_url,
# character by character in Python: a fifth of a call's CPU for stoplive's long job paths
# (bench/client_vs_sdk.py). A stop reads its job again and again while it watches it.
URL_CACHE_SIZE = 512
PAGE_SIZE = 100
MAX_PAGES = 20  # 2,000 rooms, or live jobs: more is not a list to page (the list says it was cut)
# What a project whose policy (or region) does not allow the tenant-wide job list answers it.
TENANT_LIST_REFUSALS = (403, 404)
ERROR_TEXT_LIMIT = 300  # characters of a server's error message kept (a gateway page is huge)

# Raised before a single byte of the request left: always safe to try again.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
)

# What ends a list early (the deadline included); after its first page, what was read is kept.
_LIST_ENDINGS: tuple[type[Exception], ...] = (*READ_FAILURES, TimeoutError)

# What a read of the job between two stops may fail with (InvalidId, JSON: ValueErrors).
_STILL_LIVE_FAILURES: tuple[type[Exception], ...] = (*READ_FAILURES, TimeoutError, ValueError)

Model = TypeVar("Model", bound=BaseModel)
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


class MetaStudioClient:
    """The calls stoplive makes. Every method validates its IDs before building a URL."""

    def __init__(
        self,
        *,
        base_url: str,
        project_id: str,
        auth: httpx.Auth,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._prefix = f"/v1/{path_segment(project_id)}/smart-live-rooms"
        self._tenant_jobs = f"/v1/{path_segment(project_id)}/smart-live-jobs"
        self._retry = retry or RetryPolicy()
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._reads_in_flight = asyncio.Semaphore(MAX_READS_IN_FLIGHT)
        self.clock_skew_seconds: float | None = None
        """How far this machine's clock is ahead of the servers' (negative: behind), from the
        ``Date`` header of the latest answer (IAM's too); None before any answer."""
        self._skew_reported = False
        self._urls: dict[str, httpx.URL] = {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
            limits=httpx.Limits(
                max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT
            ),
            follow_redirects=False,  # a redirect must never carry our signature elsewhere
            event_hooks={"response": [self._note_clock]},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> MetaStudioClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def clock_is_off(self) -> bool:
        """The clock is far enough off that signatures are (or soon will be) refused."""
        skew = self.clock_skew_seconds
        return skew is not None and abs(skew) > CLOCK_SKEW_WARNING

    # --- the calls --------------------------------------------------------------------------

    async def stop_job(self, room_id: str, job_id: str, app_user_id: str) -> StopAccepted:
        """Stop a job, never sending the stop again blindly.

        Once a stop was sent, an answer that is neither a yes (2xx) nor a no (4xx) (a 5xx
        from a gateway that may sit behind an applied stop, a 429, a timeout, a dropped
        connection) leaves its fate unknown: the job is read, and the stop sent again only if
        the job is still live, within the retry policy's attempts and budget. A 4xx to any stop
        (the first too) is a refusal only if a read shows the job still live: an earlier stop
        (this one's first, a second click's, someone else's) may have ended it, and a stop of
        an ended job is refused. Otherwise it is an :class:`OutcomeUnknown` that is
        ``refused``, with the job as read (None if it could not be).

        Raises :class:`OutcomeUnknown` when the job must be watched to know (it was not seen
        live, could not be read, the budget ran out, or no IAM token could be had to send it
        again), :class:`IamError` only when no stop was sent at all, and :class:`UnreadableAnswer` for a
        2xx that is not MetaStudio's (an HTML page from a proxy): in both cases look at the
        job before telling anyone anything.
        """
        path = self._job_path(room_id, job_id) + "/stop"
        what = f"stop job {job_id}"
        deadline = time.monotonic() + self._retry.budget
        attempt = 0
        while True:
            attempt += 1
            # a stop sent again gets what is left of the budget, and no more
            left = deadline - time.monotonic() if attempt > 1 else None
            try:
                async with asyncio.timeout(left):
                    response = await self._call(
                        "POST", path, app_user_id, idempotent=False, what=what
                    )
            except OutcomeUnknown as exc:
                unknown = exc
            except IamError as exc:
                if attempt == 1:  # no token for the first stop: nothing was sent at all
                    raise
                # The stop sent before may yet take effect: its fate is still unknown.
                log.warning("%s; the stop could not be sent again (%s)", unknown, exc)
                raise unknown from exc
            except TimeoutError as exc:  # the budget ran out with the stop on its way
                raise OutcomeUnknown(what, exc) from exc
            except MetaStudioError as exc:
                job = await self._read_between(room_id, job_id, app_user_id, deadline)
                if job is not None and job.is_live:
                    raise
                raise OutcomeUnknown(what, exc, job) from exc
            else:
                request_id = _request_id(response)
                # The API documents no body for a 200: empty or a JSON object is its answer.
                if response.content.strip():
                    _json_object(response, what)
                return StopAccepted(request_id=request_id)
            retry_after = unknown.answer.retry_after if unknown.answer is not None else None
            wait = self._retry.delay(attempt, retry_after)
            if attempt >= self._retry.attempts or time.monotonic() + wait > deadline:
                raise unknown
            await asyncio.sleep(wait)
            if not await self._still_live(room_id, job_id, app_user_id, deadline):
                raise unknown
            log.warning("%s; the job is still live, so the stop is sent again", unknown)

    async def _still_live(
        self, room_id: str, job_id: str, app_user_id: str, deadline: float
    ) -> bool:
        """Whether a read within ``deadline`` (monotonic) sees the job live; False when it
        cannot be read in time: only a job seen live is stopped again."""
        job = await self._read_between(room_id, job_id, app_user_id, deadline)
        return job is not None and job.is_live

    async def _read_between(
        self, room_id: str, job_id: str, app_user_id: str, deadline: float
    ) -> SmartLiveJob | None:
        """The job as read within ``deadline`` (monotonic) between answers to a stop; None
        when it cannot be read in time."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            async with asyncio.timeout(left):
                return await self.get_job(room_id, job_id, app_user_id)
        except _STILL_LIVE_FAILURES as exc:
            log.warning("stop job %s: the job could not be read (%s)", job_id, exc)
            return None

    async def get_job(self, room_id: str, job_id: str, app_user_id: str) -> SmartLiveJob:
        what = f"read job {job_id}"
        response = await self._call("GET", self._job_path(room_id, job_id), app_user_id, what=what)
        body = _json_object(response, what)
        job = _model(
            SmartLiveJob,
            {
                "room_id": room_id,
                **body,
                "request_id": _request_id(response),
                "room_named": isinstance(body.get("room_id"), str),
            },
            what,
            response,
        )
        if job.job_id != job_id:
            raise UnreadableAnswer(what, "the answer is about another job", _request_id(response))
        if job.room_id != room_id:
            raise AboutAnotherRoom(
                what, "the answer is about a job of another room", _request_id(response)
            )
        return job

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

    async def get_room(self, room_id: str, app_user_id: str) -> SmartLiveRoom:
        path = f"{self._prefix}/{path_segment(check_resource_id('room ID', room_id))}"
        what = f"read room {room_id}"
        response = await self._call("GET", path, app_user_id, what=what)
        body = _json_object(response, what)
        return _model(
            SmartLiveRoom,
            {"room_id": room_id, **body, "request_id": _request_id(response)},
            what,
            response,
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

    # --- plumbing ---------------------------------------------------------------------------

    def _job_path(self, room_id: str, job_id: str) -> str:
        room = path_segment(check_resource_id("room ID", room_id))
        job = path_segment(check_resource_id("job ID", job_id))
        return f"{self._prefix}/{room}/smart-live-jobs/{job}"

    def _url(self, path: str) -> httpx.URL:
        """``path`` on the endpoint, as httpx merges it with ``base_url`` (parsed once)."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            url = self._urls[path] = self._http.build_request("GET", path).url
        return url

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

    async def _note_clock(self, response: httpx.Response) -> None:
        """Every answer (IAM's included) says what time the server thinks it is."""
        server_time = parse_http_date(response.headers.get("Date"))
        if server_time is None:
            return
        self.clock_skew_seconds = (datetime.now(UTC) - server_time).total_seconds()
        if self.clock_is_off and not self._skew_reported:
            log.warning("%s", clock_skew_words(self.clock_skew_seconds))
        self._skew_reported = self.clock_is_off

    async def _call(
        self,
        method: str,
        path: str,
        app_user_id: str,
        *,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        what: str,
    ) -> httpx.Response:
        headers = {"X-App-UserId": check_app_user_id(app_user_id)}
        deadline = time.monotonic() + self._retry.budget
        # a stop (the one call that is not idempotent) never waits for a read's turn
        reads: contextlib.AbstractAsyncContextManager[Any] = (
            self._reads_in_flight if idempotent else contextlib.nullcontext()
        )
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                async with reads, self._in_flight:
                    response = await self._http.request(
                        method, self._url(path), params=params, headers=headers
                    )
            except IamError as exc:  # no token: nothing was sent to MetaStudio
                if not exc.retryable:
                    raise
                failure: Exception = exc
            except httpx.TransportError as exc:
                if (iam := token_request_failure(exc)) is not None:
                    failure = iam
                elif isinstance(exc, _NOT_SENT) or idempotent:
                    failure = Unreachable(what, exc)
                else:
                    raise OutcomeUnknown(what, exc) from exc
            except httpx.DecodingError as exc:  # an answer came, in an encoding none can read
                raise UnreadableAnswer(what, "the body could not be decoded", "") from exc
            else:
                if response.is_success:
                    return response
                error = _error(response, self.clock_skew_seconds if self.clock_is_off else None)
                if not error.retryable:
                    raise error
                if not idempotent:  # neither yes nor no: the caller reads before resending
                    raise OutcomeUnknown(what, error)
                failure, retry_after = error, error.retry_after
            wait = self._retry.delay(attempt, retry_after)
            if attempt >= self._retry.attempts or time.monotonic() + wait > deadline:
                raise failure
            await asyncio.sleep(wait)


def _key(entry: SmartLiveJob | SmartLiveRoom) -> str:
    return entry.job_id if isinstance(entry, SmartLiveJob) else entry.room_id


def _request_id(response: httpx.Response) -> str:
    return safe_text(response.headers.get("X-Request-Id", ""), 128)


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The answer's JSON object, or :class:`UnreadableAnswer` saying what came instead."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        kind = safe_text(response.headers.get("Content-Type") or "no content type", 80)
        raise UnreadableAnswer(what, f"not JSON ({kind})", _request_id(response)) from None
    if not isinstance(body, dict):
        raise UnreadableAnswer(
            what, f"a JSON {type(body).__name__} instead of an object", _request_id(response)
        )
    return body


def _model(model: type[Model], data: dict[str, Any], what: str, response: httpx.Response) -> Model:
    """``data`` read into ``model``, or :class:`UnreadableAnswer` naming the first bad field
    (never its value: it may be huge, or anything at all)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        detail = safe_text(f"{where}: {first['msg']}", 200)
        raise UnreadableAnswer(what, detail, _request_id(response)) from None


def _error(response: httpx.Response, clock_skew: float | None) -> MetaStudioError:
    """Any non-2xx answer, JSON or not, as one exception with everything worth quoting, cut
    short and free of control characters; a 401 to a signed request names a clock that is off."""
    code, message = f"HTTP.{response.status_code}", response.reason_phrase or "error"
    signed = "X-Sdk-Date" in response.request.headers
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        body = None
        text = safe_text(response.text, ERROR_TEXT_LIMIT)
        if text:
            message = text
    if isinstance(body, dict):
        code = safe_text(body.get("error_code") or code, 64)
        message = safe_text(body.get("error_msg") or message, ERROR_TEXT_LIMIT)
    return MetaStudioError(
        status=response.status_code,
        error_code=code,
        error_msg=message,
        request_id=_request_id(response),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        # Only a signature is held to the clock; a token is not.
        clock_skew=clock_skew if response.status_code == 401 and signed else None,
    )
