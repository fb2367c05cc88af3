"""The MetaStudio client against the stand-in, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.metastudio import (
    IamError,
    InvalidId,
    JobState,
    MetaStudioClient,
    MetaStudioError,
    OutcomeUnknown,
    SmartLiveRoom,
    Unreachable,
    UnreadableAnswer,
    UnusableAnswer,
)
from bot.metastudio.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from bot.metastudio.listing import MAX_PAGES, PAGE_SIZE
from bot.metastudio.retry import RetryPolicy
from bot.metastudio.transport import MAX_READS_IN_FLIGHT, URL_CACHE_SIZE
from bot.sandbox.standins import serve_on_loopback
from bot.sandbox.standins.metastudio import (
    INVALID,
    ROOMS,
    UNAUTHORIZED,
    Fault,
    MetaStudioStandIn,
)
from tests.builders import AK, FAST_RETRY, JOB, ROOM, SK

DEFAULT_TEST_TIMEOUT = httpx.Timeout(5.0)


async def test_stop_sends_a_signed_post_with_the_app_user(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    accepted = await client.stop_job(ROOM, JOB, "ops-alice")
    assert accepted.request_id
    [call] = metastudio.calls("POST", "/stop")
    assert (
        call.path
        == f"/v1/{metastudio.project_id}/smart-live-rooms/{ROOM}/smart-live-jobs/{JOB}/stop"
    )
    assert call.headers["X-App-UserId"] == "ops-alice"
    assert call.headers["X-Project-Id"] == metastudio.project_id
    assert call.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, ")
    assert metastudio.auth_failures == 0
    assert metastudio.jobs[JOB].state == "SUCCEED"


async def test_get_job_is_typed_and_tolerates_new_fields(client: MetaStudioClient) -> None:
    job = await client.get_job(ROOM, JOB, "ops-alice")
    assert job.known_state is JobState.PROCESSING and job.is_live
    assert job.room_name == "Spring sale" and job.started_at is not None and job.request_id


async def test_list_jobs_filters_by_state_and_reads_every_page(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    for n in range(130):
        metastudio.add_job(ROOM, f"job-{n:03d}", state="PROCESSING" if n % 2 else "SUCCEED")
    live = await client.list_jobs(ROOM, "ops-alice", states=[JobState.WAITING, JobState.PROCESSING])
    assert len(live) == 66 and all(j.is_live for j in live)
    everything = await client.list_jobs(ROOM, "ops-alice")
    assert len(everything) == 131
    pages = metastudio.calls("GET", "/smart-live-jobs")
    assert [p.query["offset"] for p in pages] == ["0", "0", "100"]
    assert pages[0].query["state"] == "WAITING,PROCESSING"


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [(400, INVALID, "MSS.00000003"), (401, UNAUTHORIZED, "MSS.00000001")],
)
async def test_client_errors_are_not_retried(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, status: int, body: object, code: str
) -> None:
    metastudio.inject(JOB, Fault("status", status=status, body=body))
    with pytest.raises(MetaStudioError) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert (raised.value.status, raised.value.error_code) == (status, code)
    assert raised.value.request_id and raised.value.error_msg == body["error_msg"]  # type: ignore[index]
    assert len(metastudio.calls("POST", "/stop")) == 1


def sequence(metastudio: MetaStudioStandIn) -> list[str]:
    """The calls about the job, in order: "stop" or "read"."""
    return [
        "stop" if seen.method == "POST" else "read" for seen in metastudio.seen if JOB in seen.path
    ]


async def test_a_500_to_a_stop_is_read_then_resent_while_the_job_is_live(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("status", status=500))
    assert (await client.stop_job(ROOM, JOB, "ops-alice")).request_id
    assert sequence(metastudio) == ["stop", "read", "stop"]  # never re-sent blindly


@pytest.mark.parametrize("status", [502, 503, 504, 429])
async def test_a_stop_applied_behind_an_error_is_not_resent_and_never_a_refusal(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, status: int
) -> None:
    """A gateway answers 504 in front of a stop MetaStudio applied: the job is read, found
    ended, and the stop is not sent again (a second one would be refused: the job is over)."""
    gateway_page = "<html>504 Gateway Time-out</html>"
    metastudio.inject(JOB, Fault("applied", status=status, body=gateway_page))
    with pytest.raises(OutcomeUnknown) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.answer is not None and raised.value.answer.status == status
    assert raised.value.request_id.startswith("rid-")
    assert sequence(metastudio) == ["stop", "read"]
    assert metastudio.jobs[JOB].state == "SUCCEED"


async def test_a_4xx_to_a_first_stop_of_an_ended_job_is_refused_with_the_job_as_read(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    """Another stop ended the job first: MetaStudio refuses this one (400, as for any ended
    job). Not a plain refusal: the job was read, and the read goes with the answer."""
    metastudio.jobs[JOB].end()
    with pytest.raises(OutcomeUnknown) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.refused and raised.value.job is not None
    assert raised.value.job.has_ended and "refused (HTTP 400" in str(raised.value)
    assert sequence(metastudio) == ["stop", "read"]


async def test_a_4xx_to_a_resent_stop_of_an_ended_job_is_unknown_not_refused(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    """The first stop was answered 503 and the job still read live (it was ending); the stop
    sent again is refused because the first one ended it: not a refusal, the job says so."""
    metastudio.inject(JOB, Fault("status", status=503))
    metastudio.inject(JOB, Fault("applied", status=400, body=INVALID))
    with pytest.raises(OutcomeUnknown) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.answer is not None and raised.value.answer.status == 400
    assert sequence(metastudio) == ["stop", "read", "stop", "read"]


async def test_a_4xx_to_a_resent_stop_of_a_live_job_is_a_refusal_after_a_read(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("status", status=503))
    metastudio.inject(JOB, Fault("status", status=403, body=UNAUTHORIZED))
    with pytest.raises(MetaStudioError) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.status == 403
    assert sequence(metastudio) == ["stop", "read", "stop", "read"]


async def test_a_stop_whose_job_cannot_be_read_after_a_500_is_unknown_and_not_resent(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("status", status=500))
    metastudio.inject(JOB, Fault("status", on="get", status=500, times=10))
    with pytest.raises(OutcomeUnknown):
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert len(metastudio.calls("POST", "/stop")) == 1


async def test_a_persistent_500_ends_unknown_carrying_the_documented_error(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("status", status=500, times=10))
    with pytest.raises(OutcomeUnknown) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.answer is not None
    assert (raised.value.answer.status, raised.value.answer.error_code) == (500, "MSS.00000004")
    assert len(metastudio.calls("POST", "/stop")) == FAST_RETRY.attempts
    assert sequence(metastudio) == ["stop", "read", "stop", "read", "stop"]


async def test_a_non_json_error_still_carries_status_and_request_id(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(
        JOB, Fault("status", on="get", status=502, body="<html>Bad gateway</html>", times=10)
    )
    with pytest.raises(MetaStudioError) as raised:
        await client.get_job(ROOM, JOB, "ops-alice")
    assert raised.value.status == 502 and raised.value.error_code == "HTTP.502"
    assert "Bad gateway" in raised.value.error_msg and raised.value.request_id.startswith("rid-")


async def test_429_honours_retry_after(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(
        JOB,
        Fault(
            "status",
            status=429,
            body={"error_code": "MSS.429", "error_msg": "slow down"},
            headers={"Retry-After": "1"},
        ),
    )
    started = time.monotonic()
    await client.stop_job(ROOM, JOB, "ops-alice")
    assert time.monotonic() - started >= 0.95
    assert len(metastudio.calls("POST", "/stop")) == 2


async def test_retry_after_beyond_the_budget_gives_up_at_once(
    metastudio: MetaStudioStandIn,
) -> None:
    metastudio.inject(JOB, Fault("status", status=429, headers={"Retry-After": "60"}))
    async with _client(metastudio, retry=RetryPolicy(budget=2.0)) as client:
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.answer is not None
    assert raised.value.answer.status == 429 and raised.value.answer.retry_after == 60
    assert time.monotonic() - started < 1


async def test_a_stop_whose_answer_is_lost_is_unknown_and_not_resent(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("lost_answer"))
    with pytest.raises(OutcomeUnknown):
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert len(metastudio.calls("POST", "/stop")) == 1
    assert (
        metastudio.jobs[JOB].state == "SUCCEED"
    )  # it *was* applied: hence "unknown", not "failed"


async def test_a_dropped_stop_is_read_then_resent_while_the_job_is_live(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("drop"))
    assert (await client.stop_job(ROOM, JOB, "ops-alice")).request_id
    assert sequence(metastudio) == ["stop", "read", "stop"]
    assert metastudio.jobs[JOB].state == "SUCCEED" and metastudio.jobs[JOB].stops == 1


async def test_a_dropped_stop_of_an_unreadable_job_is_unknown(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("drop", on="any", times=10))
    with pytest.raises(OutcomeUnknown):
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert metastudio.jobs[JOB].state == "PROCESSING"
    assert len(metastudio.calls("POST", "/stop")) == 1


async def test_a_slow_stop_times_out_as_unknown(metastudio: MetaStudioStandIn) -> None:
    metastudio.inject(JOB, Fault("slow", on="any", seconds=1.0, times=10))
    async with _client(metastudio, timeout=httpx.Timeout(0.3)) as client:
        with pytest.raises(OutcomeUnknown) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert isinstance(raised.value.cause, httpx.ReadTimeout)


async def test_reads_are_retried_after_a_dropped_connection(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("drop", on="get"))
    assert (await client.get_job(ROOM, JOB, "ops-alice")).job_id == JOB
    assert len(metastudio.calls("GET", JOB)) == 2


async def test_a_slow_read_is_retried(metastudio: MetaStudioStandIn) -> None:
    metastudio.inject(JOB, Fault("slow", on="get", seconds=1.0))
    async with _client(metastudio, timeout=httpx.Timeout(0.3)) as client:
        assert (await client.get_job(ROOM, JOB, "ops-alice")).is_live
    assert len(metastudio.calls("GET", JOB)) == 2


async def test_nothing_listening_is_unreachable() -> None:
    async with MetaStudioClient(
        base_url="http://127.0.0.1:9",
        project_id="p",
        auth=TokenAuth(SecretStr("t")),
        retry=FAST_RETRY,
    ) as client:
        with pytest.raises(Unreachable):
            await client.stop_job(ROOM, JOB, "ops-alice")


@pytest.mark.parametrize(
    "bad",
    [
        "../../other",
        "a/b",
        "job?x=1",
        "job#frag",
        "%2e%2e",
        "",
        "x" * 65,
        "@evil.example",
        "中文",
        "a b",
    ],
)
async def test_hostile_ids_never_reach_the_network(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, bad: str
) -> None:
    with pytest.raises(InvalidId):
        await client.stop_job(ROOM, bad, "ops-alice")
    with pytest.raises(InvalidId):
        await client.get_job(bad, JOB, "ops-alice")
    assert metastudio.seen == []


@pytest.mark.parametrize("bad", ["张三", "ops alice", "", "x\r\nX-Evil: 1"])
async def test_hostile_app_user_ids_are_refused(client: MetaStudioClient, bad: str) -> None:
    with pytest.raises(InvalidId):
        await client.stop_job(ROOM, JOB, bad)


async def test_a_wrong_secret_gets_the_documented_401(metastudio: MetaStudioStandIn) -> None:
    auth = AkSkAuth(SecretStr(AK), SecretStr("not-the-secret"), metastudio.project_id)
    async with _client(metastudio, auth=auth) as client:
        with pytest.raises(OutcomeUnknown) as raised:  # the read is refused too: state unknown
            await client.stop_job(ROOM, JOB, "ops-alice")
    said = raised.value.answer
    assert said is not None and raised.value.refused and raised.value.job is None
    assert (said.status, said.error_code, said.error_msg) == (401, "MSS.00000001", "Unauthorized")
    assert metastudio.jobs[JOB].state == "PROCESSING"


async def test_fixed_token_auth(metastudio: MetaStudioStandIn) -> None:
    metastudio.tokens.add("fixed-token")
    async with _client(metastudio, auth=TokenAuth(SecretStr("fixed-token"))) as client:
        await client.stop_job(ROOM, JOB, "ops-alice")
    [call] = metastudio.calls("POST", "/stop")
    assert call.headers["X-Auth-Token"] == "fixed-token" and "Authorization" not in call.headers


def _iam(metastudio: MetaStudioStandIn, password: str = "pw") -> IamPasswordAuth:
    return IamPasswordAuth(
        iam_endpoint=metastudio.url,
        username="bot",
        password=SecretStr(password),
        domain="acme",
        project_id=metastudio.project_id,
    )


async def test_iam_password_auth_fetches_once_and_shares_the_token(
    metastudio: MetaStudioStandIn,
) -> None:
    metastudio.iam_users[("acme", "bot", "pw")] = 24 * 3600
    async with _client(metastudio, auth=_iam(metastudio)) as client:
        await asyncio.gather(*(client.get_job(ROOM, JOB, "ops-alice") for _ in range(10)))
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert metastudio.iam_calls == 1 and metastudio.auth_failures == 0


async def test_iam_token_renewed_before_expiry(metastudio: MetaStudioStandIn) -> None:
    metastudio.iam_users[("acme", "bot", "pw")] = 1  # renews at half-life: 0.5 s
    async with _client(metastudio, auth=_iam(metastudio)) as client:
        await client.get_job(ROOM, JOB, "ops-alice")
        await asyncio.sleep(0.6)
        await client.get_job(ROOM, JOB, "ops-alice")
    assert metastudio.iam_calls == 2 and metastudio.auth_failures == 0


async def test_iam_401_gets_one_retry_with_a_fresh_token(metastudio: MetaStudioStandIn) -> None:
    metastudio.iam_users[("acme", "bot", "pw")] = 24 * 3600
    async with _client(metastudio, auth=_iam(metastudio)) as client:
        await client.get_job(ROOM, JOB, "ops-alice")
        metastudio.tokens.clear()  # IAM revoked it
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert metastudio.iam_calls == 2 and len(metastudio.calls("POST", "/stop")) == 2


async def test_iam_wrong_password_is_a_clear_error(metastudio: MetaStudioStandIn) -> None:
    metastudio.iam_users[("acme", "bot", "pw")] = 3600
    async with _client(metastudio, auth=_iam(metastudio, "wrong")) as client:
        with pytest.raises(IamError) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.status == 401 and raised.value.code == "IAM.0002"
    assert "wrong" not in str(raised.value).replace("is wrong", "")
    assert metastudio.calls("POST", "/stop") == []


def _client(
    metastudio: MetaStudioStandIn,
    *,
    auth: httpx.Auth | None = None,
    retry: RetryPolicy = FAST_RETRY,
    timeout: httpx.Timeout = DEFAULT_TEST_TIMEOUT,
) -> MetaStudioClient:
    return MetaStudioClient(
        base_url=metastudio.url,
        project_id=metastudio.project_id,
        auth=auth or AkSkAuth(SecretStr(AK), SecretStr(SK), metastudio.project_id),
        retry=retry,
        timeout=timeout,
    )


# --- answers that cannot be read -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("<html><body>Gateway says hi</body></html>", "not JSON"),
        (b"\xff\xfe\xfa not utf-8", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ("", "not JSON"),
        (["a", "list"], "a JSON list instead of an object"),
        ({"job_id": JOB, "state": ["x"]}, "state: Input should be a valid string"),
        ({"job_id": JOB, "state": "PROCESSING", "room_id": 7}, "room_id"),
        ({"state": "PROCESSING"}, "job_id: Field required"),
        ({"job_id": JOB, "state": "PROCESSING", "duration": "long"}, "duration"),
        ({"job_id": JOB, "state": "PROCESSING", "error_info": "oops"}, "error_info"),
        ({"job_id": "another-job", "state": "PROCESSING"}, "about another job"),
        ({"job_id": JOB, "room_id": "another-room", "state": "PROCESSING"}, "another room"),
    ],
    ids=[
        "html",
        "not-utf8",
        "nested-too-deep",
        "empty",
        "list",
        "state-list",
        "room-int",
        "no-job-id",
        "duration-text",
        "error-info-text",
        "other-job",
        "other-room",
    ],
)
async def test_a_2xx_job_that_cannot_be_read_is_unreadable_with_its_request_id(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, body: object, detail: str
) -> None:
    metastudio.inject(JOB, Fault("status", on="get", status=200, body=body))
    with pytest.raises(UnreadableAnswer) as raised:
        await client.get_job(ROOM, JOB, "ops-alice")
    assert detail in raised.value.detail and raised.value.request_id.startswith("rid-")
    assert len(metastudio.calls("GET", JOB)) == 1  # a 2xx is an answer: not retried


@pytest.mark.parametrize(
    "body",
    [
        "<html>proxy</html>",
        {"count": "many", "smart_live_jobs": []},
        {"count": 1, "smart_live_jobs": "none"},
        {"count": 1, "smart_live_jobs": ["job"]},
        {"count": 1, "smart_live_jobs": [{"job_id": JOB, "state": None}]},
    ],
    ids=["html", "count-text", "jobs-text", "job-text", "state-null"],
)
async def test_a_2xx_job_list_that_cannot_be_read_is_unreadable(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, body: object
) -> None:
    metastudio.inject(ROOM, Fault("status", on="list", status=200, body=body))
    with pytest.raises(UnreadableAnswer) as raised:
        await client.list_jobs(ROOM, "ops-alice", [JobState.PROCESSING])
    assert raised.value.request_id


async def test_a_2xx_room_list_or_room_that_cannot_be_read_is_unreadable(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(ROOMS, Fault("status", on="list", status=200, body="<html>hi</html>"))
    with pytest.raises(UnreadableAnswer):
        await client.list_rooms("ops-alice")
    metastudio.inject(ROOMS, Fault("status", on="list", status=200, body={"smart_live_rooms": []}))
    with pytest.raises(UnreadableAnswer) as raised:
        await client.count_rooms("ops-alice")
    assert raised.value.detail == "no count"


async def test_a_stop_answered_by_a_gateway_page_is_unreadable_not_accepted(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("status", status=200, body="<html>Welcome</html>"))
    with pytest.raises(UnreadableAnswer) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.request_id.startswith("rid-")


async def test_a_stop_answered_200_without_a_body_is_accepted(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    """The API documents no body for a stop's 200."""
    metastudio.inject(JOB, Fault("status", status=200, body=b""))
    assert (await client.stop_job(ROOM, JOB, "ops-alice")).request_id.startswith("rid-")


async def test_a_huge_hostile_error_answer_is_cut_and_made_safe(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    page = "<html>\r\n\x1b[2J\x00" + "<p>bad gateway</p>\n" * 100_000 + "</html>"
    metastudio.inject(JOB, Fault("status", on="get", status=502, body=page, times=10))
    with pytest.raises(MetaStudioError) as raised:
        await client.get_job(ROOM, JOB, "ops-alice")
    message = raised.value.error_msg
    assert message.startswith("<html> [2J <p>bad gateway</p> <p>") and message.endswith("…")
    assert len(message) <= 300 and not any(ord(c) < 32 for c in str(raised.value))


async def test_a_json_error_with_control_characters_and_odd_types_is_made_safe(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    body = {"error_code": ["MSS", 1], "error_msg": "bad\r\nINFO forged\u202e" + "y" * 5000}
    metastudio.inject(JOB, Fault("status", status=400, body=body))
    with pytest.raises(MetaStudioError) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.error_code == "['MSS', 1]"
    assert raised.value.error_msg.startswith("bad INFO forged y")
    assert len(raised.value.error_msg) <= 300 and "\u202e" not in str(raised.value)


async def test_an_unknown_job_can_be_answered_400_as_metastudio_does(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.unknown = (400, INVALID)
    with pytest.raises(MetaStudioError) as raised:
        await client.get_job(ROOM, "26f06524-0000-0000-0000-000000000000", "ops-alice")
    assert (raised.value.status, raised.value.error_code) == (400, "MSS.00000003")


# --- the clock ----------------------------------------------------------------------------


async def test_a_clock_20_min_off_is_named_in_the_401(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    metastudio.clock_offset = -timedelta(minutes=20)  # MetaStudio's clock: we are 20 min ahead
    for _ in range(2):
        with pytest.raises(MetaStudioError) as raised:
            await client.get_job(ROOM, JOB, "ops-alice")
    assert raised.value.status == 401 and raised.value.clock_skew is not None
    assert 1195 <= raised.value.clock_skew <= 1205
    assert "this machine's clock is 20 min off (ahead of MetaStudio's)" in str(raised.value)
    assert client.clock_is_off and client.clock_skew_seconds == pytest.approx(1200, abs=5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage()[:40] for r in warnings] == ["this machine's clock is 20 min off (ahea"]


async def test_a_clock_a_little_off_still_works_and_is_measured(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.clock_skew_seconds is None
    metastudio.clock_offset = timedelta(minutes=3)
    await client.get_job(ROOM, JOB, "ops-alice")
    assert client.clock_skew_seconds == pytest.approx(-180, abs=5) and not client.clock_is_off
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_wrong_secret_with_a_good_clock_blames_no_clock(
    metastudio: MetaStudioStandIn,
) -> None:
    auth = AkSkAuth(SecretStr(AK), SecretStr("wrong"), metastudio.project_id)
    async with _client(metastudio, auth=auth) as client:
        with pytest.raises(MetaStudioError) as raised:
            await client.get_job(ROOM, JOB, "ops-alice")
    assert raised.value.clock_skew is None and "clock" not in str(raised.value)


# --- finding rooms ------------------------------------------------------------------------


async def test_list_rooms_reads_every_page_as_documented(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    for n in range(249):
        metastudio.add_room(f"room-{n:03d}", f"Room {n}")
    listing = await client.list_rooms("ops-alice")
    assert listing.complete and listing.total == 250
    rooms = listing.entries
    assert len(rooms) == 250 and len({r.room_id for r in rooms}) == 250
    first = next(r for r in rooms if r.room_id == ROOM)
    assert first.room_name == "Spring sale" and first.last_job_status == "PROCESSING"
    assert first.room_state == "ENABLE" and first.request_id
    pages = metastudio.calls("GET", "/smart-live-rooms")
    assert [(p.query["offset"], p.query["limit"]) for p in pages] == [
        ("0", "100"),
        ("100", "100"),
        ("200", "100"),
    ]
    assert all(p.headers["X-App-UserId"] == "ops-alice" for p in pages)


async def test_list_rooms_by_name_and_live_state(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.add_job("room-b", "job-b", room_name="SPRING launch", state="SUCCEED")
    metastudio.add_job("room-c", "job-c", room_name="Autumn spring-clean", state="WAITING")
    metastudio.add_room("room-d", "Winter")
    by_name = (await client.list_rooms("ops-alice", room_name="  Spring ")).entries
    assert sorted(r.room_id for r in by_name) == sorted([ROOM, "room-b", "room-c"])
    # a room whose job is still starting (WAITING) is live too
    live = (await client.list_rooms("ops-alice", room_name="spring", live_only=True)).entries
    assert sorted(r.room_id for r in live) == sorted([ROOM, "room-c"])
    queries = [c.query for c in metastudio.calls("GET", "/smart-live-rooms")]
    assert queries[0]["room_name"] == "Spring" and "live_state" not in queries[0]
    assert queries[1]["live_state"] == "WAITING,PROCESSING"
    assert (await client.list_rooms("ops-alice", room_name="nothing like it")).entries == ()


@pytest.mark.parametrize("bad", ["", "   ", "x" * 257, "a\nb", "tab\there", "nul\x00"])
async def test_room_name_searches_that_cannot_be_sent_are_refused(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, bad: str
) -> None:
    with pytest.raises(InvalidId):
        await client.list_rooms("ops-alice", room_name=bad)
    assert metastudio.seen == []


async def test_list_rooms_stops_after_max_pages_when_the_count_lies(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    full_page = {
        "count": 10**9,
        "smart_live_rooms": [{"room_id": f"r{n}", "room_name": "x"} for n in range(PAGE_SIZE)],
    }
    metastudio.inject(ROOMS, Fault("status", on="list", status=200, body=full_page, times=10**6))
    listing = await client.list_rooms("ops-alice")
    assert len(listing.entries) == PAGE_SIZE and len(metastudio.calls("GET")) == MAX_PAGES
    assert listing.cut and not listing.complete and listing.total == 10**9


async def test_live_jobs_by_room_reads_rooms_concurrently_within_the_bound(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    for n in range(12):
        metastudio.add_job(f"room-{n:02d}", f"job-{n:02d}a", room_name=f"Room {n}")
        metastudio.add_job(f"room-{n:02d}", f"job-{n:02d}b", state="SUCCEED")
    metastudio.inject("room-05", Fault("status", on="list", status=400, body=INVALID))
    rooms = (await client.list_rooms("ops-alice", live_only=True)).entries
    assert len(rooms) == 13
    metastudio.latency = 0.05
    metastudio.most_in_flight = 0
    found = await client.live_jobs_by_room(rooms, "ops-alice", concurrency=4)
    assert metastudio.most_in_flight == 4  # 13 rooms read 4 at a time: concurrent, and bounded
    assert [f.room.room_id for f in found] == [r.room_id for r in rooms]
    failed = [f for f in found if f.failure is not None]
    assert [f.room.room_id for f in failed] == ["room-05"] and failed[0].jobs == ()
    assert isinstance(failed[0].failure, MetaStudioError)
    live = {f.room.room_id: [j.job_id for j in f.jobs] for f in found if f.failure is None}
    assert live[ROOM] == [JOB] and live["room-11"] == ["job-11a"]
    job_queries = [c.query for c in metastudio.calls("GET", "/smart-live-jobs")]
    assert {q["state"] for q in job_queries} == {"WAITING,PROCESSING"}  # every live state


async def test_live_jobs_by_room_refuses_a_listed_room_id_it_would_not_send(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    room = SmartLiveRoom(room_id="../../other")
    [found] = await client.live_jobs_by_room([room], "ops-alice")
    assert isinstance(found.failure, UnusableAnswer) and metastudio.seen == []


async def test_a_refused_token_blames_no_clock_however_far_off(
    metastudio: MetaStudioStandIn,
) -> None:
    """Tokens are not held to the clock: a 401 to one is about the token."""
    metastudio.clock_offset = timedelta(minutes=30)
    async with _client(metastudio, auth=TokenAuth(SecretStr("revoked"))) as client:
        with pytest.raises(MetaStudioError) as raised:
            await client.get_job(ROOM, JOB, "ops-alice")
    assert raised.value.status == 401 and raised.value.clock_skew is None
    assert client.clock_is_off


async def test_an_endpoint_with_a_path_keeps_it_on_every_call() -> None:
    """Paths are merged with the endpoint once and reused (a stop reads its job many times):
    the endpoint's own path stays in front, as httpx merges it, on every call."""
    seen: list[str] = []

    async def job(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"job_id": JOB, "state": "PROCESSING"})

    application = web.Application()
    application.router.add_get("/{tail:.*}", job)
    runner, url = await serve_on_loopback(application)
    try:
        async with MetaStudioClient(
            base_url=f"{url}/gateway/",
            project_id="p",
            auth=TokenAuth(SecretStr("t")),
        ) as client:
            for _ in range(3):
                assert (await client.get_job(ROOM, JOB, "ops")).job_id == JOB
    finally:
        await runner.cleanup()
    assert seen == [f"/gateway/v1/p/smart-live-rooms/{ROOM}/smart-live-jobs/{JOB}"] * 3


def test_the_merged_urls_kept_are_bounded() -> None:
    client = MetaStudioClient(
        base_url="https://metastudio.example", project_id="p", auth=TokenAuth(SecretStr("t"))
    )
    first = client._url("/v1/p/smart-live-rooms/r1")
    assert first == httpx.URL("https://metastudio.example/v1/p/smart-live-rooms/r1")
    assert client._url("/v1/p/smart-live-rooms/r1") is first  # parsed once
    for i in range(URL_CACHE_SIZE * 2):
        client._url(f"/v1/p/smart-live-rooms/r{i}")
    assert len(client._urls) <= URL_CACHE_SIZE


async def test_a_stop_does_not_queue_behind_reads(metastudio: MetaStudioStandIn) -> None:
    """A dozen slow reads (a list of every room, the watches of a burst) leave room for a
    stop: it is sent at once, not after the reads ahead of it."""
    other = "11111111-2222-4333-8444-555555555555"
    metastudio.add_job(ROOM, other)
    metastudio.inject(other, Fault("slow", on="get", times=12, seconds=0.6))
    async with _client(metastudio) as client:
        reads = [asyncio.create_task(client.get_job(ROOM, other, "ops")) for _ in range(12)]
        for _ in range(50):  # a loaded machine may take a while to send them all
            if metastudio.in_flight == MAX_READS_IN_FLIGHT:
                break
            await asyncio.sleep(0.01)
        assert metastudio.in_flight == MAX_READS_IN_FLIGHT  # the reads have taken what they may
        started = time.monotonic()
        await client.stop_job(ROOM, JOB, "ops")
        assert time.monotonic() - started < 0.4  # a read takes 0.6 s
        assert metastudio.most_in_flight <= MAX_READS_IN_FLIGHT + 1
        await asyncio.gather(*reads)
