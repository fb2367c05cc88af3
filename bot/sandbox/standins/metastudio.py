"""A small MetaStudio stand-in: the smart-live endpoints stoplive uses, and IAM's token
endpoint, over real HTTP.

Rooms and jobs live in memory. AK/SK signatures are checked against the Authorization that a
reference signer computes for the same request: the tests pass Huawei's own
``huaweicloudsdkcore`` signer (``tests/reference_signer.py``; so the bot's signer is checked on
every call, independently; huaweicloudsdkcore is a test-only dependency), ``python -m bot
sandbox`` passes :func:`stoplive_signer`. Tokens are checked against a set; IAM ``/v3/auth/tokens`` hands them
out. Every answer carries a ``Date`` header from the stand-in's clock, which can be set off
(:attr:`MetaStudioStandIn.clock_offset`); signatures more than 15 min off *that* clock are
refused, as the gateway does.

Faults can be injected per job (or :data:`ANY_JOB`), room, the rooms list or the tenant-wide
job list (:meth:`MetaStudioStandIn.inject`) and
for IAM (:attr:`MetaStudioStandIn.iam_faults`): an error answer or any body at all, 429 with
Retry-After, a slow answer (or none: a long ``slow``), a dropped connection, a stop that is
applied but whose answer never comes (``lost_answer``) or is an error (``applied``: a gateway's
504 in front of a stop that worked), a stop that is accepted while the job keeps running
(``stays_live``), or that ends it only after a while, in another state meanwhile
(``ends_after``: ``STOPPING``, say). A job's ``state`` may be set to anything at all.

``ListSmartLiveRooms`` answers as documented (``offset`` counts entries, ``limit`` per page,
``room_name`` matched fuzzily (here: case-insensitive substring), ``live_state`` comma-separated
``WAITING``, ``PROCESSING``, ``SUCCESS``, ``FAILED``, ``CANCELED`` or ``NULL``). A room's live
state is that of its live job if it has one, else of its newest job, ``NULL`` without jobs.
``ListSmartLiveJobs`` (every job of the project, ``GET /v1/{project_id}/smart-live-jobs``) takes
``state``, ``offset`` and ``limit`` as a room's job list does; an older region (or a narrower
policy) refuses it: inject a 403 or 404 at :data:`TENANT_JOBS`. Every list answers at most
:attr:`MetaStudioStandIn.page_limit` entries a page, whatever ``limit`` asked, with the true
``count``.

Not-documented choices (the API page lists 400/401/500 only): an unknown room or job gets
404 ``MSS.00000005`` unless :attr:`MetaStudioStandIn.unknown` says otherwise (MetaStudio has
been seen answering 400 ``MSS.00000003``); stopping a job that is not live gets 400
``MSS.00000003``; ``limit`` must be 1-100.

The endpoints are here; the state and the checks before them in ``metastudio_core.py``, the
data (answers, faults, rooms, jobs, the reference signer) in ``metastudio_data.py``, whose names
this module re-exports.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.sandbox.standins import serve_on_loopback
from bot.sandbox.standins.metastudio_core import StandInCore
from bot.sandbox.standins.metastudio_data import (
    ANY_JOB,
    DEFAULT_PROJECT_ID,
    INTERNAL,
    INVALID,
    LIVE,
    NO_SUCH_API,
    NOT_FOUND,
    ROOMS,
    TENANT_JOBS,
    UNAUTHORIZED,
    Fault,
    Job,
    ReferenceSigner,
    Room,
    Seen,
    SignedRequest,
    iso,
    stoplive_signer,
)

# The stand-in's public surface: the tests import the data's names from here.
__all__ = [
    "ANY_JOB",
    "DEFAULT_PROJECT_ID",
    "INTERNAL",
    "INVALID",
    "LIVE",
    "NOT_FOUND",
    "NO_SUCH_API",
    "ROOMS",
    "TENANT_JOBS",
    "UNAUTHORIZED",
    "Fault",
    "Job",
    "MetaStudioStandIn",
    "ReferenceSigner",
    "Room",
    "Seen",
    "SignedRequest",
    "iso",
    "standin_holding",
    "stoplive_signer",
]

# A job's state as the rooms list names it (``live_state``); the others are the same word.
_ROOM_STATE = {"SUCCEED": "SUCCESS", "BLOCKED": "FAILED"}


class MetaStudioStandIn(StandInCore):
    # --- set-up -----------------------------------------------------------------------------

    def add_room(self, room_id: str, room_name: str = "Spring sale") -> Room:
        return self.rooms.setdefault(room_id, Room(room_id, room_name))

    def add_job(
        self,
        room_id: str,
        job_id: str,
        *,
        room_name: str = "Spring sale",
        state: str = "PROCESSING",
    ) -> Job:
        self.add_room(room_id, room_name)
        job = Job(job_id=job_id, room_id=room_id, state=state)
        if state not in LIVE:
            job.end_time = datetime.now(UTC) - timedelta(minutes=5)
        self.jobs[job_id] = job
        return job

    def inject(self, key: str, fault: Fault) -> None:
        """Apply ``fault`` to calls about ``key``: a job ID (its get and stop), :data:`ANY_JOB`
        (the next such call about any job; a job's own faults come first), a room ID (its get,
        and its job list: ``on="list"``), :data:`ROOMS` (the rooms list) or :data:`TENANT_JOBS`
        (the tenant-wide job list, ``on="list"``)."""
        self.faults.setdefault(key, []).append(fault)

    def live_state(self, room_id: str) -> str:
        jobs = [j for j in self.jobs.values() if j.room_id == room_id]
        for state in ("PROCESSING", "WAITING"):
            if any(j.state == state for j in jobs):
                return state
        if not jobs:
            return "NULL"
        newest = max(jobs, key=lambda j: j.start_time)
        return _ROOM_STATE.get(newest.state, newest.state)

    def calls(self, method: str | None = None, suffix: str = "") -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and s.path.endswith(suffix)
        ]

    async def start(self) -> str:
        app = web.Application(middlewares=[self._dated])
        base = "/v1/{project}/smart-live-rooms"
        app.router.add_post("/v3/auth/tokens", self._iam_token)
        app.router.add_get(base, self._list_rooms)
        app.router.add_get("/v1/{project}/smart-live-jobs", self._list_tenant_jobs)
        app.router.add_get(base + "/{room}/smart-live-jobs", self._list_jobs)
        app.router.add_get(base + "/{room}/smart-live-jobs/{job}", self._get_job)
        app.router.add_post(base + "/{room}/smart-live-jobs/{job}/stop", self._stop_job)
        self._runner, self.url = await serve_on_loopback(app)
        return self.url

    async def stop(self) -> None:
        self._closing.set()  # slow answers end now, so shutting down does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    async def _apply(self, request: web.Request, fault: Fault | None) -> web.Response | None:
        if fault is None:
            return None
        if fault.kind == "status":
            return self._status(fault)
        if fault.kind == "slow":
            await self._pause(fault.seconds)
        elif fault.kind == "drop":
            _hang_up(request)
            return web.Response()
        return None

    @staticmethod
    def _status(fault: Fault) -> web.Response:
        """The answer a ``status`` (or ``applied``) fault gives."""
        body = fault.body if fault.body is not None else INTERNAL
        headers = {"X-Request-Id": "rid-" + uuid.uuid4().hex[:8], **fault.headers}
        if isinstance(body, str):
            return web.Response(status=fault.status, text=body, headers=headers)
        if isinstance(body, bytes):
            return web.Response(status=fault.status, body=body, headers=headers)
        return MetaStudioStandIn._answer(fault.status, body, headers)

    # --- endpoints --------------------------------------------------------------------------

    async def _iam_token(self, request: web.Request) -> web.Response:
        self.iam_calls += 1
        if (faulted := await self._apply(request, self._take(self.iam_faults, "any"))) is not None:
            return faulted
        try:
            body = await request.json()
            identity = body["auth"]["identity"]["password"]["user"]
            key = (identity["domain"]["name"], identity["name"], identity["password"])
            if body["auth"]["scope"]["project"]["id"] != self.project_id:
                raise KeyError("project")
        except (ValueError, KeyError, TypeError):
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
        expires = self.now() + timedelta(seconds=self.iam_users[key])
        expires_at = self.iam_expires_at
        if expires_at is None:
            expires_at = expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        return web.json_response(
            {"token": {"expires_at": expires_at}},
            status=201,
            headers={"X-Subject-Token": token},
        )

    def _paging(self, request: web.Request) -> tuple[int, int] | None:
        """``offset`` and how many to answer (``limit``, at most :attr:`page_limit`), or None
        if they are not what the API accepts."""
        try:
            offset = int(request.query.get("offset", "0"))
            limit = int(request.query.get("limit", "10"))
        except ValueError:
            return None
        return (offset, min(limit, self.page_limit)) if offset >= 0 and 1 <= limit <= 100 else None

    def _job_page(self, request: web.Request, room_id: str | None) -> web.Response:
        """A page of jobs (of one room, or of every room), in the asked ``state`` values."""
        if (paging := self._paging(request)) is None:
            return self._answer(400, INVALID)
        offset, limit = paging
        states = set(request.query.get("state", "").split(",")) - {""}
        jobs = [
            j
            for j in self.jobs.values()
            if room_id in (None, j.room_id) and (not states or j.state in states)
        ]
        page = [j.as_json(self.rooms[j.room_id].room_name) for j in jobs[offset : offset + limit]]
        return self._answer(200, {"count": len(jobs), "smart_live_jobs": page})

    def _room_json(self, room: Room) -> dict[str, Any]:
        jobs = sorted(
            (j for j in self.jobs.values() if j.room_id == room.room_id),
            key=lambda j: j.start_time,
        )
        body: dict[str, Any] = {
            "room_id": room.room_id,
            "room_name": room.room_name,
            "room_type": "NORMAL",
            "room_state": "ENABLE",
            "create_time": iso(room.created),
            "update_time": iso(room.created),
            "some_new_field": ["added", "later"],
        }
        if jobs:
            body["last_job_status"] = jobs[-1].state
            body["last_job_start_time"] = iso(jobs[-1].start_time)
            if jobs[-1].end_time:
                body["last_job_end_time"] = iso(jobs[-1].end_time)
        return body

    async def _list_rooms(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        if (faulted := await self._apply(request, self._fault(ROOMS, "list"))) is not None:
            return faulted
        if (paging := self._paging(request)) is None:
            return self._answer(400, INVALID)
        offset, limit = paging
        name = request.query.get("room_name", "").casefold()
        states = set(request.query.get("live_state", "").split(",")) - {""}
        rooms = [
            room
            for room in self.rooms.values()
            if name in room.room_name.casefold()
            and (not states or self.live_state(room.room_id) in states)
        ]
        page = [self._room_json(room) for room in rooms[offset : offset + limit]]
        return self._answer(200, {"count": len(rooms), "smart_live_rooms": page})

    async def _list_jobs(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        room_id = request.match_info["room"]
        if (faulted := await self._apply(request, self._fault(room_id, "list"))) is not None:
            return faulted
        if room_id not in self.rooms:
            return self._unknown()
        return self._job_page(request, room_id)

    async def _list_tenant_jobs(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        if (faulted := await self._apply(request, self._fault(TENANT_JOBS, "list"))) is not None:
            return faulted
        return self._job_page(request, None)

    def _job(self, request: web.Request) -> Job | None:
        job = self.jobs.get(request.match_info["job"])
        if job is not None and self.jobs_by_id_alone:
            return job
        return job if job is not None and job.room_id == request.match_info["room"] else None

    async def _get_job(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        fault = self._fault(request.match_info["job"], "get", job=True)
        if (faulted := await self._apply(request, fault)) is not None:
            return faulted
        if (job := self._job(request)) is None:
            return self._unknown()
        answer = job.as_json(self.rooms[job.room_id].room_name)
        if not self.job_answers_name_the_room:
            del answer["room_id"]  # the SDK's model has it optional
        return self._answer(200, answer)

    async def _stop_job(self, request: web.Request) -> web.Response:
        if (refusal := await self._guard(request)) is not None:
            return refusal
        fault = self._fault(request.match_info["job"], "stop", job=True)
        if (faulted := await self._apply(request, fault)) is not None:
            return faulted
        if (job := self._job(request)) is None:
            return self._unknown()
        if job.state not in LIVE:
            return self._answer(400, INVALID)
        job.stops += 1
        kind = fault.kind if fault is not None else ""
        if kind == "ends_after" and fault is not None:
            if isinstance(fault.body, str):
                job.state = fault.body
            asyncio.get_running_loop().call_later(fault.seconds, job.end)
        elif kind != "stays_live":
            job.end()
        if kind == "lost_answer":
            _hang_up(request)
        if kind == "applied" and fault is not None:
            return self._status(fault)
        return self._answer(200, {})


def _hang_up(request: web.Request) -> None:
    """Close the connection without a word: the client sees no answer at all."""
    assert request.transport is not None
    request.transport.close()


def standin_holding(
    jobs: list[str], room: str, ak: str, sk: str, latency: float = 0.0
) -> MetaStudioStandIn:
    """A stand-in (for the benchmarks in ``bench/``) holding ``jobs`` live: each in ``room``,
    or ``room/job`` in a room of its own; AK/SK as given, ``latency`` before every answer."""
    standin = MetaStudioStandIn(signer=stoplive_signer)
    standin.aksk[ak] = sk
    standin.latency = latency
    for job_id in jobs:
        room_id, _, job = job_id.rpartition("/")
        standin.add_job(room_id or room, job, room_name=f"Room {room_id or room}")
    return standin


async def _serve(jobs: list[str], room: str, ak: str, sk: str, latency: float) -> None:
    """Run the stand-in on its own (for the benchmarks in ``bench/``); prints its URL."""
    print(await standin_holding(jobs, room, ak, sk, latency).start(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Run the MetaStudio stand-in until killed.")
    parser.add_argument("--room", required=True)
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("jobs", nargs="*", help="job IDs ('room/job' too) to create, or stdin")
    options = parser.parse_args()
    job_ids = options.jobs or sys.stdin.read().split()
    asyncio.run(_serve(job_ids, options.room, options.ak, options.sk, options.latency))
