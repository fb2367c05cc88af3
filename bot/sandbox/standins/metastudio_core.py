"""The MetaStudio stand-in's state and what every request goes through before its endpoint:
the stand-in's clock and latency, the AK/SK or token check, the record of calls, and the faults
waiting for it. :class:`~bot.sandbox.standins.metastudio.MetaStudioStandIn` adds the endpoints;
kept apart so that neither module outgrows one sitting's reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from bot.metastudio import signing
from bot.sandbox.standins.metastudio_data import (
    ANY_JOB,
    DEFAULT_PROJECT_ID,
    NOT_FOUND,
    UNAUTHORIZED,
    Fault,
    Job,
    ReferenceSigner,
    Room,
    Seen,
    SignedRequest,
)

MAX_SKEW = timedelta(minutes=15)
_AUTH = re.compile(r"SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StandInCore:
    """The state of :class:`~bot.sandbox.standins.metastudio.MetaStudioStandIn` and its
    checks before any endpoint answers."""

    def __init__(self, *, signer: ReferenceSigner, project_id: str = DEFAULT_PROJECT_ID) -> None:
        self.project_id = project_id
        self.signer = signer
        self.aksk: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.iam_users: dict[tuple[str, str, str], int] = {}  # (domain, user, password) -> ttl s
        self.iam_calls = 0
        self.iam_faults: list[Fault] = []  # applied to token requests, ``on`` ignored
        self.iam_expires_at: Any = None  # sent as token.expires_at instead of the real one
        self.rooms: dict[str, Room] = {}
        self.jobs: dict[str, Job] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.seen: list[Seen] = []
        self.auth_failures = 0
        self.clock_offset = timedelta(0)  # the stand-in's clock is this far ahead of the real one
        self.latency = 0.0  # seconds added before every answer
        self.latencies: list[float] = []  # or before the next ones, one each, in arrival order
        self.in_flight = 0  # requests being answered right now
        self.most_in_flight = 0  # the most there ever were at once
        self.unknown: tuple[int, dict[str, str]] = (404, NOT_FOUND)  # for an unknown room/job
        self.page_limit = 100  # the most entries a list answers per page, whatever was asked
        # a MetaStudio that finds a job by its ID alone, whatever room the path names (its
        # answers then name the job's own room)
        self.jobs_by_id_alone = False
        self.job_answers_name_the_room = True  # False: a job's answer leaves room_id out
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def now(self) -> datetime:
        """The stand-in's clock: what its Date headers say and signatures are held to."""
        return datetime.now(UTC) + self.clock_offset

    # --- plumbing ---------------------------------------------------------------------------

    @web.middleware
    async def _dated(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every answer comes after :attr:`latency` (or the next of :attr:`latencies`) and says
        what time the stand-in thinks it is."""
        delay = self.latencies.pop(0) if self.latencies else self.latency
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if delay:
                await self._pause(delay)
            response = await handler(request)
        finally:
            self.in_flight -= 1
        if not response.prepared:
            response.headers["Date"] = format_datetime(self.now(), usegmt=True)
        return response

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    @staticmethod
    def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(
            body, status=status, headers={"X-Request-Id": uuid.uuid4().hex, **(headers or {})}
        )

    def _unknown(self) -> web.Response:
        return self._answer(*self.unknown)

    async def _authorized(self, request: web.Request) -> bool:
        token = request.headers.get("X-Auth-Token")
        if token is not None:
            return token in self.tokens
        match = _AUTH.fullmatch(request.headers.get("Authorization", ""))
        if not match or match.group(1) not in self.aksk:
            return False
        if request.headers.get("X-Project-Id") != self.project_id:
            return False
        signed = match.group(2).split(";")
        if "host" not in signed or "x-sdk-date" not in signed:
            return False
        try:
            when = datetime.strptime(request.headers["X-Sdk-Date"], signing.DATE_FORMAT)
        except (KeyError, ValueError):
            return False
        if abs(self.now() - when.replace(tzinfo=UTC)) > MAX_SKEW:
            return False
        headers = {}
        for name in signed:
            if name not in request.headers:
                return False
            headers[name] = request.headers.getall(name)[0]
        expected = self.signer(
            SignedRequest(
                method=request.method,
                host=request.host,
                raw_path=request.raw_path.split("?")[0],
                raw_query=request.rel_url.raw_query_string,
                headers=headers,
                body=await request.read(),
            ),
            match.group(1),
            self.aksk[match.group(1)],
        )
        return hmac.compare_digest(expected, request.headers["Authorization"])

    async def _guard(self, request: web.Request) -> web.Response | None:
        """Record, authenticate and apply faults; a Response means: answer with it."""
        self.seen.append(
            Seen(request.method, request.path, dict(request.query), dict(request.headers))
        )
        if request.match_info.get("project") != self.project_id:
            return self._answer(404, NOT_FOUND)
        if not await self._authorized(request):
            self.auth_failures += 1
            return self._answer(401, UNAUTHORIZED)
        return None

    @staticmethod
    def _take(queue: list[Fault], call: str) -> Fault | None:
        for fault in queue:
            if (call == "any" or fault.on in (call, "any")) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _fault(self, key: str, call: str, *, job: bool = False) -> Fault | None:
        queue = self.faults.get(key, []) + (self.faults.get(ANY_JOB, []) if job else [])
        return self._take(queue, call)
