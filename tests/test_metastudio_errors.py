"""One family of MetaStudio failures: callers catch the base, each says itself in words, and
whatever MetaStudio answers, the client's public methods raise nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.metastudio import (
    AboutAnotherRoom,
    IamError,
    InvalidId,
    MetaStudioClient,
    MetaStudioError,
    MetaStudioFailure,
    OutcomeUnknown,
    SmartLiveRoom,
    Unreachable,
    UnreadableAnswer,
    UnusableAnswer,
    describe,
)
from bot.sandbox.standins.metastudio import ROOMS, TENANT_JOBS, Fault, MetaStudioStandIn
from tests.builders import JOB, ROOM

ANSWER = MetaStudioError(503, "MSS.00000001", "busy", "req-1", None)
FAILURES: list[tuple[MetaStudioFailure, str, str]] = [
    (ANSWER, "req-1", "HTTP 503 MSS.00000001: busy"),
    (
        OutcomeUnknown("stop", ANSWER),
        "req-1",
        "stop: MetaStudio answered HTTP 503 MSS.00000001, which does not say whether it was applied",
    ),
    (OutcomeUnknown("stop", OSError()), "", "stop: no answer from MetaStudio (OSError)"),
    (Unreachable("read", OSError("down")), "", "read: MetaStudio unreachable (OSError: down)"),
    (
        UnreadableAnswer("read", "not JSON", "req-2"),
        "req-2",
        "MetaStudio's answer was unreadable (not JSON)",
    ),
    (
        AboutAnotherRoom("read", "room r2", "req-3"),
        "req-3",
        "MetaStudio's answer was unreadable (room r2)",
    ),
    (
        UnusableAnswer("list jobs", "a room ID MetaStudio listed must be...", "req-5"),
        "req-5",
        "MetaStudio's answer was unusable (a room ID MetaStudio listed must be...)",
    ),
    (
        IamError(401, "APIGW.0301", "bad password", "req-4"),
        "req-4",
        "no IAM token (IAM: HTTP 401 APIGW.0301: bad password); nothing was sent to MetaStudio",
    ),
]


@pytest.mark.parametrize(("failure", "request_id", "words"), FAILURES)
def test_every_failure_is_one_family_with_its_request_id_and_words(
    failure: MetaStudioFailure, request_id: str, words: str
) -> None:
    assert isinstance(failure, MetaStudioFailure)
    assert failure.request_id == request_id
    assert failure.description == words == describe(failure)


def test_what_is_not_of_the_family_is_still_said_plainly() -> None:
    assert describe(TimeoutError()) == "MetaStudio took too long to answer"
    assert describe(InvalidId("bad id")) == "MetaStudio's answer was unusable (bad id)"
    assert describe(ValueError("x")) == "MetaStudio's answer was unreadable (ValueError)"


BAD_ID = "../../other"
# Answers a 2xx may carry that are not MetaStudio's documented JSON.
STRAY_ANSWERS: dict[str, Any] = {
    "bad JSON": "<html>gateway says hello</html>",
    "a JSON list": [1, 2],
    "wrong types": {
        "job_id": 5,
        "room_id": ["x"],
        "state": {"a": 1},
        "count": "many",
        "smart_live_jobs": "nope",
    },
    "entries of wrong types": {
        "count": 1,
        "smart_live_jobs": [{"job_id": 7, "state": []}],
        "smart_live_rooms": [{"room_id": 5}],
    },
    "bad IDs": {
        "count": 1,
        "job_id": BAD_ID,
        "room_id": BAD_ID,
        "state": "PROCESSING",
        "smart_live_jobs": [{"job_id": BAD_ID, "room_id": BAD_ID, "state": "PROCESSING"}],
        "smart_live_rooms": [{"room_id": BAD_ID, "room_name": "x"}],
    },
}
Call = Callable[[MetaStudioClient], Awaitable[object]]
CALLS: dict[str, Call] = {
    "stop_job": lambda c: c.stop_job(ROOM, JOB, "ops-alice"),
    "get_job": lambda c: c.get_job(ROOM, JOB, "ops-alice"),
    "list_jobs": lambda c: c.list_jobs(ROOM, "ops-alice"),
    "list_live_jobs": lambda c: c.list_live_jobs("ops-alice"),
    "list_rooms": lambda c: c.list_rooms("ops-alice", room_name="spring", live_only=True),
    "count_rooms": lambda c: c.count_rooms("ops-alice"),
    "count_live_jobs": lambda c: c.count_live_jobs("ops-alice"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("answer", sorted(STRAY_ANSWERS))
async def test_a_stray_answer_comes_out_of_the_client_as_one_of_the_family(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, call: str, answer: str
) -> None:
    """A caller catches :class:`MetaStudioFailure` (and its own deadline): a pydantic error, a
    JSON decode error or a bad ID in an answer never slips past the client as a ValueError."""
    for key in (JOB, ROOM, ROOMS, TENANT_JOBS):
        metastudio.inject(
            key, Fault("status", on="any", status=200, body=STRAY_ANSWERS[answer], times=10**6)
        )
    with contextlib.suppress(MetaStudioFailure):  # anything else fails the test, as raised
        await CALLS[call](client)


async def test_a_room_id_metastudio_listed_that_will_not_be_sent_is_its_answer_unusable(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    rooms = [SmartLiveRoom(room_id=ROOM), SmartLiveRoom(room_id=BAD_ID, request_id="req-9")]
    good, bad = await client.live_jobs_by_room(rooms, "ops-alice")
    assert good.failure is None and [job.job_id for job in good.jobs] == [JOB]
    assert isinstance(bad.failure, UnusableAnswer) and bad.failure.request_id == "req-9"
    assert describe(bad.failure) == describe(InvalidId(str(bad.failure.detail)))  # words kept
    assert all(BAD_ID not in seen.path for seen in metastudio.seen)
