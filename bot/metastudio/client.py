"""An async client for the MetaStudio smart-live calls stoplive needs.

One shared ``httpx.AsyncClient`` (connections are reused across calls), explicit timeouts, and
a retry loop that knows a stop from a read. Authentication is whatever ``httpx.Auth`` it is
given; the client never looks at credentials.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import httpx

from bot.metastudio.errors import MetaStudioError, OutcomeUnknown, Unreachable
from bot.metastudio.ids import check_app_user_id, check_resource_id, path_segment
from bot.metastudio.models import JobState, SmartLiveJob, SmartLiveRoom, StopAccepted
from bot.metastudio.retry import RetryPolicy, parse_retry_after

USER_AGENT = "stoplive/0.1 (+httpx)"
DEFAULT_TIMEOUT = httpx.Timeout(8.0, connect=3.0, pool=3.0)
# Requests in flight at once. httpcore's pool scans every queued request against every
# connection (and asks each connection's socket whether it expired) on each change, so its CPU
# cost grows with the square of what is queued: a 200-request burst cost whole seconds of CPU
# (bench/burst.py). Requests wait here, in a cheap FIFO, instead. 8 measured fastest against
# the local stand-in (bench/client_vs_sdk.py); with a 200 ms round trip it still allows 40
# calls a second per process, far more than any incident needs.
MAX_IN_FLIGHT = 8
PAGE_SIZE = 100
MAX_PAGES = 20  # a room with more than 2,000 jobs of one state is not a room we should page

# Raised before a single byte of the request left: always safe to try again.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Raised after the request (maybe) left: safe to repeat only if the call changes nothing.
_MAYBE_SENT: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


class MetaStudioClient:
    """The four calls stoplive makes. Every method validates its IDs before building a URL."""

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
        self._retry = retry or RetryPolicy()
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
            limits=httpx.Limits(
                max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT
            ),
            follow_redirects=False,  # a redirect must never carry our signature elsewhere
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> MetaStudioClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def stop_job(self, room_id: str, job_id: str, app_user_id: str) -> StopAccepted:
        """Stop a job. Raises :class:`OutcomeUnknown` if the request may have been applied but
        no answer came: look at the job with :meth:`get_job` before telling anyone anything."""
        path = self._job_path(room_id, job_id) + "/stop"
        response = await self._call("POST", path, app_user_id, idempotent=False)
        return StopAccepted(request_id=_request_id(response))

    async def get_job(self, room_id: str, job_id: str, app_user_id: str) -> SmartLiveJob:
        response = await self._call("GET", self._job_path(room_id, job_id), app_user_id)
        return SmartLiveJob.model_validate(
            {"room_id": room_id, **response.json(), "request_id": _request_id(response)}
        )

    async def list_jobs(
        self, room_id: str, app_user_id: str, states: Iterable[JobState] | None = None
    ) -> list[SmartLiveJob]:
        """Every job of the room (in ``states``, if given), newest first, all pages read."""
        path = (
            f"{self._prefix}/{path_segment(check_resource_id('room ID', room_id))}/smart-live-jobs"
        )
        params: dict[str, str | int] = {
            "limit": PAGE_SIZE,
            "sort_key": "create_time",
            "sort_dir": "desc",
        }
        if states is not None:
            params["state"] = ",".join(state.value for state in states)
        jobs: list[SmartLiveJob] = []
        for page in range(MAX_PAGES):
            params["offset"] = page * PAGE_SIZE
            response = await self._call("GET", path, app_user_id, params=params)
            body = response.json()
            batch = body.get("smart_live_jobs") or []
            request_id = _request_id(response)
            jobs.extend(
                SmartLiveJob.model_validate({"room_id": room_id, **job, "request_id": request_id})
                for job in batch
            )
            if len(batch) < PAGE_SIZE or len(jobs) >= int(body.get("count", 0)):
                break
        return jobs

    async def get_room(self, room_id: str, app_user_id: str) -> SmartLiveRoom:
        path = f"{self._prefix}/{path_segment(check_resource_id('room ID', room_id))}"
        response = await self._call("GET", path, app_user_id)
        return SmartLiveRoom.model_validate(
            {"room_id": room_id, **response.json(), "request_id": _request_id(response)}
        )

    async def list_rooms(self, app_user_id: str, limit: int = 1) -> int:
        """How many rooms the project has: a cheap, read-only call that proves the
        credentials work (``python -m bot check``)."""
        response = await self._call("GET", self._prefix, app_user_id, params={"limit": limit})
        return int(response.json().get("count", 0))

    def _job_path(self, room_id: str, job_id: str) -> str:
        room = path_segment(check_resource_id("room ID", room_id))
        job = path_segment(check_resource_id("job ID", job_id))
        return f"{self._prefix}/{room}/smart-live-jobs/{job}"

    async def _call(
        self,
        method: str,
        path: str,
        app_user_id: str,
        *,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        headers = {"X-App-UserId": check_app_user_id(app_user_id)}
        what = f"{method} {path.rsplit('/smart-live-rooms', 1)[-1] or '/'}"
        deadline = time.monotonic() + self._retry.budget
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                async with self._in_flight:
                    response = await self._http.request(
                        method, path, params=params, headers=headers
                    )
            except _NOT_SENT as exc:
                failure: Exception = Unreachable(what, exc)
            except _MAYBE_SENT as exc:
                if not idempotent:
                    raise OutcomeUnknown(what, exc) from exc
                failure = Unreachable(what, exc)
            else:
                if response.is_success:
                    return response
                failure = _error(response)
                if not failure.retryable:
                    raise failure
                retry_after = failure.retry_after
            wait = self._retry.delay(attempt, retry_after)
            if attempt >= self._retry.attempts or time.monotonic() + wait > deadline:
                raise failure
            await asyncio.sleep(wait)


def _request_id(response: httpx.Response) -> str:
    return str(response.headers.get("X-Request-Id", ""))


def _error(response: httpx.Response) -> MetaStudioError:
    """Any non-2xx answer, JSON or not, as one exception with everything worth quoting."""
    code, message = f"HTTP.{response.status_code}", response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        if text:
            message = text[:200]
    else:
        if isinstance(body, dict):
            code = str(body.get("error_code") or code)
            message = str(body.get("error_msg") or message)
    return MetaStudioError(
        status=response.status_code,
        error_code=code,
        error_msg=message,
        request_id=_request_id(response),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
