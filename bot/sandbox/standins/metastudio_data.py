"""The MetaStudio stand-in's data: the answers it gives by name, the faults it can be told to
inject, the rooms and jobs it holds, and the reference signer its AK/SK check is held to.

Kept apart from :mod:`bot.sandbox.standins.metastudio` (which re-exports every name here, the
stand-in's public surface) so that neither module grows past a screenful of screens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.metastudio import signing

UNAUTHORIZED = {"error_code": "MSS.00000001", "error_msg": "Unauthorized"}
INVALID = {"error_code": "MSS.00000003", "error_msg": "Invalid parameter"}
INTERNAL = {"error_code": "MSS.00000004", "error_msg": "Internal Error"}
NOT_FOUND = {"error_code": "MSS.00000005", "error_msg": "Resource not found"}
# API Gateway's answer for an API a region does not publish (the tenant list, in older ones)
NO_SUCH_API = {
    "error_code": "APIGW.0101",
    "error_msg": "The API does not exist or has not been published in the environment",
}
ROOMS = "rooms"  # the key to inject faults into the rooms list with
ANY_JOB = "*"  # the key to inject faults into the next call about any job
TENANT_JOBS = "tenant-jobs"  # the key to inject faults into the tenant-wide job list with
DEFAULT_PROJECT_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
LIVE = ("WAITING", "PROCESSING")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


@dataclass
class Fault:
    """What to do instead of (or before) answering: ``kind`` is one of ``status``, ``slow``,
    ``drop``, ``lost_answer``, ``stays_live``, ``applied`` (the stop is applied, then answered
    like ``status``), ``ends_after`` (the stop is accepted; the job ends ``seconds`` later, in
    state ``body`` until then if given). ``on`` is ``stop``, ``get``, ``list`` or ``any``. A
    ``status`` body may be JSON-able, ``str`` (sent as text) or ``bytes``."""

    kind: str
    on: str = "stop"
    times: int = 1
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Room:
    room_id: str
    room_name: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=3))


@dataclass
class Job:
    job_id: str
    room_id: str
    state: str = "PROCESSING"
    start_time: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=62))
    end_time: datetime | None = None
    stops: int = 0
    more: dict[str, Any] = field(default_factory=dict)  # other fields (block_reason, error_info)

    def end(self, state: str = "SUCCEED", **more: Any) -> None:
        """The job ends now, in ``state`` (a stop's ``SUCCEED``, or on its own: ``FAILED``
        with ``error_info``, ``BLOCKED`` with ``block_reason``, as ``more``)."""
        self.state, self.end_time = state, datetime.now(UTC)
        self.more.update(more)

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
            **self.more,
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
