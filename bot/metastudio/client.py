"""An async client for the MetaStudio smart-live calls stoplive needs.

One shared ``httpx.AsyncClient`` (connections are reused across calls), explicit timeouts, and
a retry loop that knows a stop from a read. Authentication is whatever ``httpx.Auth`` it is
given; the client never looks at credentials. Every answer is read into a typed model or
refused as :class:`UnreadableAnswer`; every answer's ``Date`` header tells how far this
machine's clock is off (:attr:`MetaStudioClient.clock_skew_seconds`).

The lists live in ``listing.py`` and one call's plumbing in ``transport.py``, which this class
builds on, so each module stays small enough to read in one sitting.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from bot.metastudio.errors import (
    CALL_FAILURES,
    AboutAnotherRoom,
    IamError,
    MetaStudioError,
    OutcomeUnknown,
    UnreadableAnswer,
)
from bot.metastudio.ids import check_resource_id, path_segment
from bot.metastudio.listing import RoomLists
from bot.metastudio.models import SmartLiveJob, StopAccepted
from bot.metastudio.retry import RetryPolicy
from bot.metastudio.transport import (
    MAX_IN_FLIGHT,
    MAX_READS_IN_FLIGHT,
    _json_object,
    _model,
    _request_id,
)

log = logging.getLogger("bot.metastudio")

USER_AGENT = "stoplive/0.1 (+httpx)"
DEFAULT_TIMEOUT = httpx.Timeout(8.0, connect=3.0, pool=3.0)


class MetaStudioClient(RoomLists):
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
        except CALL_FAILURES as exc:
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

    # --- plumbing ---------------------------------------------------------------------------

    def _job_path(self, room_id: str, job_id: str) -> str:
        room = path_segment(check_resource_id("room ID", room_id))
        job = path_segment(check_resource_id("job ID", job_id))
        return f"{self._prefix}/{room}/smart-live-jobs/{job}"
