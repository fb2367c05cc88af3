"""A small MetaStudio stand-in: the smart-live endpoints stoplive uses, over real HTTP.

Rooms and jobs live in memory. AK/SK signatures are checked against the Authorization that a
reference signer computes for the same request: the tests pass Huawei's own
``huaweicloudsdkcore`` signer (so the bot's signer is checked on every call, independently;
huaweicloudsdkcore is a test-only dependency), ``python -m bot sandbox`` passes
:func:`stoplive_signer`. Tokens are checked against a set, and IAM ``/v3/auth/tokens`` hands out
tokens. Faults can be injected per
job: an error answer, 429 with Retry-After, a slow answer, a dropped connection, a stop that is
applied but whose answer never comes, and a stop that is accepted while the job keeps running.

Not-documented choices (the API page lists 400/401/500 only): an unknown room or job gets
404 ``MSS.00000005``; stopping a job that is not live gets 400 ``MSS.00000003``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.metastudio import signing
from bot.sandbox.standins import serve_on_loopback

UNAUTHORIZED = {"error_code": "MSS.00000001", "error_msg": "Unauthorized"}
INVALID = {"error_code": "MSS.00000003", "error_msg": "Invalid parameter"}
INTERNAL = {"error_code": "MSS.00000004", "error_msg": "Internal Error"}
NOT_FOUND = {"error_code": "MSS.00000005", "error_msg": "Resource not found"}
ANY_JOB = "*"
_AUTH = re.compile(r"SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)")


@dataclass(frozen=True)
class SignedRequest:
    """What a reference signer needs of a received request."""

    method: str
    host: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]  # the signed ones (lower-case names), as received
    body: bytes


ReferenceSigner = Callable[[SignedRequest, str, str], str]
"""The ``Authorization`` value a correct signer writes for a request, given the AK and SK."""


def stoplive_signer(request: SignedRequest, ak: str, sk: str) -> str:
    """The reference built on stoplive's own :mod:`bot.metastudio.signing` (the sandbox's: it
    proves requests are signed consistently; the tests hold that signer to Huawei's)."""
    return signing.authorization(
        method=request.method,
        raw_path=request.raw_path,
        raw_query=request.raw_query,
        headers=signing.signable_headers(request.headers.items()),
        body_hash=signing.payload_hash(request.body, request.headers.get("content-type")),
        ak=ak,
        sk=sk,
        when=datetime.strptime(request.headers["x-sdk-date"], signing.DATE_FORMAT).replace(
            tzinfo=UTC
        ),
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    """What to do instead of (or before) answering: ``kind`` is one of ``status``, ``slow``,
    ``drop``, ``lost_answer``, ``stays_live``. ``on`` is ``stop``, ``get`` or ``any``."""

    kind: str
    on: str = "stop"
    times: int = 1
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Job:
    job_id: str
    room_id: str
    state: str = "PROCESSING"
    start_time: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=62))
    end_time: datetime | None = None
    stops: int = 0

    def as_json(self, room_name: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "job_id": self.job_id,
            "room_id": self.room_id,
            "room_name": room_name,
            "state": self.state,
            "start_time": iso(self.start_time),
            "create_time": iso(self.start_time),
            "lastupdate_time": iso(self.end_time or self.start_time),
            "some_new_field": {"added": "by Huawei later"},
        }
        if self.end_time:
            body["end_time"] = iso(self.end_time)
            body["duration"] = (self.end_time - self.start_time).total_seconds()
        return body


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


DEFAULT_PROJECT_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


class MetaStudioStandIn:
    def __init__(self, *, signer: ReferenceSigner, project_id: str = DEFAULT_PROJECT_ID) -> None:
        self.project_id = project_id
        self.signer = signer
        self.aksk: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.iam_users: dict[tuple[str, str, str], int] = {}  # (domain, user, password) -> ttl s
        self.iam_calls = 0
        self.rooms: dict[str, str] = {}  # room_id -> room_name
        self.jobs: dict[str, Job] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.seen: list[Seen] = []
        self.auth_failures = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- set-up -----------------------------------------------------------------------------

    def add_job(
        self,
        room_id: str,
        job_id: str,
        *,
        room_name: str = "Spring sale",
        state: str = "PROCESSING",
    ) -> Job:
        self.rooms.setdefault(room_id, room_name)
        job = Job(job_id=job_id, room_id=room_id, state=state)
        if state not in ("WAITING", "PROCESSING"):
            job.end_time = datetime.now(UTC) - timedelta(minutes=5)
        self.jobs[job_id] = job
        return job

    def inject(self, job_id: str, fault: Fault) -> None:
        """``fault`` on calls about ``job_id``; :data:`ANY_JOB`: on the next such call about
        any job (a job's own faults come first)."""
        self.faults.setdefault(job_id, []).append(fault)

    def calls(self, method: str | None = None, suffix: str = "") -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and s.path.endswith(suffix)
        ]

    async def start(self) -> str:
        app = web.Application()
        base = "/v1/{project}/smart-live-rooms"
        app.router.add_post("/v3/auth/tokens", self._iam_token)
        app.router.add_get(base, self._list_rooms)
        app.router.add_get(base + "/{room}", self._get_room)
        app.router.add_get(base + "/{room}/smart-live-jobs", self._list_jobs)
        app.router.add_get(base + "/{room}/smart-live-jobs/{job}", self._get_job)
        app.router.add_post(base + "/{room}/smart-live-jobs/{job}/stop", self._stop_job)
        self._runner, self.url = await serve_on_loopback(app)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(
            body, status=status, headers={"X-Request-Id": uuid.uuid4().hex, **(headers or {})}
        )

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
            when = datetime.strptime(request.headers["X-Sdk-Date"], "%Y%m%dT%H%M%SZ").replace(
                tzinfo=UTC
            )
        except (KeyError, ValueError):
            return False
        if abs((datetime.now(UTC) - when).total_seconds()) > 15 * 60:
            return False
        headers = {}
        for name in signed:
            if name not in request.headers:
                return False
            headers[name] = request.headers.getall(name)[0]
        received = SignedRequest(
            method=request.method,
            host=request.host,
            raw_path=request.raw_path.split("?")[0],
            raw_query=request.rel_url.raw_query_string,
            headers=headers,
            body=await request.read(),
        )
        ak = match.group(1)
        return self.signer(received, ak, self.aksk[ak]) == request.headers["Authorization"]

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

    def _fault(self, request: web.Request, call: str) -> Fault | None:
        job_id = request.match_info.get("job", "")
        queue = self.faults.get(job_id, []) + (self.faults.get(ANY_JOB, []) if job_id else [])
        for fault in queue:
            if fault.on in (call, "any") and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _apply(self, request: web.Request, fault: Fault | None) -> web.Response | None:
        if fault is None:
            return None
        if fault.kind == "status":
            body = fault.body if fault.body is not None else INTERNAL
            if isinstance(body, str):
                return web.Response(
                    status=fault.status,
                    text=body,
                    headers={"X-Request-Id": "rid-" + uuid.uuid4().hex[:8], **fault.headers},
                )
            return self._answer(fault.status, body, fault.headers)
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
        elif fault.kind == "drop":
            _hang_up(request)
            return web.Response()
        return None

    # --- endpoints --------------------------------------------------------------------------

    async def _iam_token(self, request: web.Request) -> web.Response:
        self.iam_calls += 1
        body = await request.json()
        try:
            identity = body["auth"]["identity"]["password"]["user"]
            key = (identity["domain"]["name"], identity["name"], identity["password"])
            assert body["auth"]["scope"]["project"]["id"] == self.project_id
        except (KeyError, AssertionError):
            return web.json_response(
                {"error": {"code": "IAM.0011", "message": "bad request"}}, status=400
            )
        if key not in self.iam_users:
            return web.json_response(
                {"error": {"code": "IAM.0002", "message": "The username or password is wrong."}},
                status=401,
            )
        token = "iam-" + uuid.uuid4().hex
        self.tokens.add(token)
        expires = datetime.now(UTC) + timedelta(seconds=self.iam_users[key])
        return web.json_response(
            {"token": {"expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")}},
            status=201,
            headers={"X-Subject-Token": token},
        )

    async def _list_rooms(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        rooms = [{"room_id": r, "room_name": n} for r, n in self.rooms.items()]
        return self._answer(
            200,
            {"count": len(rooms), "smart_live_rooms": rooms[: int(request.query.get("limit", 10))]},
        )

    async def _get_room(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        room = request.match_info["room"]
        if room not in self.rooms:
            return self._answer(404, NOT_FOUND)
        return self._answer(
            200, {"room_id": room, "room_name": self.rooms[room], "room_description": "demo"}
        )

    async def _list_jobs(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        room = request.match_info["room"]
        if room not in self.rooms:
            return self._answer(404, NOT_FOUND)
        states = set(request.query.get("state", "").split(",")) - {""}
        jobs = [
            j for j in self.jobs.values() if j.room_id == room and (not states or j.state in states)
        ]
        offset, limit = int(request.query.get("offset", 0)), int(request.query.get("limit", 10))
        page = [j.as_json(self.rooms[room]) for j in jobs[offset : offset + limit]]
        return self._answer(200, {"count": len(jobs), "smart_live_jobs": page})

    def _job(self, request: web.Request) -> Job | None:
        job = self.jobs.get(request.match_info["job"])
        return job if job is not None and job.room_id == request.match_info["room"] else None

    async def _get_job(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        if (faulted := await self._apply(request, self._fault(request, "get"))) is not None:
            return faulted
        job = self._job(request)
        if job is None:
            return self._answer(404, NOT_FOUND)
        return self._answer(200, job.as_json(self.rooms[job.room_id]))

    async def _stop_job(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        fault = self._fault(request, "stop")
        if (faulted := await self._apply(request, fault)) is not None:
            return faulted
        job = self._job(request)
        if job is None:
            return self._answer(404, NOT_FOUND)
        if job.state not in ("WAITING", "PROCESSING"):
            return self._answer(400, INVALID)
        job.stops += 1
        if fault is None or fault.kind != "stays_live":
            job.state, job.end_time = "SUCCEED", datetime.now(UTC)
        if fault is not None and fault.kind == "lost_answer":
            _hang_up(request)
        return self._answer(200, {})


def _hang_up(request: web.Request) -> None:
    """Close the connection without a word: the client sees no answer at all."""
    assert request.transport is not None
    request.transport.close()


async def _serve(jobs: list[str], room: str, ak: str, sk: str) -> None:
    """Run the stand-in on its own (for the benchmarks in ``bench/``); prints its URL."""
    standin = MetaStudioStandIn(signer=stoplive_signer)
    standin.aksk[ak] = sk
    for job_id in jobs:
        standin.add_job(room, job_id)
    print(await standin.start(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Run the MetaStudio stand-in until killed.")
    parser.add_argument("--room", required=True)
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("jobs", nargs="*", help="job IDs to create (or read from stdin)")
    options = parser.parse_args()
    job_ids = options.jobs or sys.stdin.read().split()
    asyncio.run(_serve(job_ids, options.room, options.ak, options.sk))
