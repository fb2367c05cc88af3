"""The MetaStudio client against the stand-in, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from pydantic import SecretStr

from bot.metastudio import (
    IamError,
    InvalidId,
    JobState,
    MetaStudioClient,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
)
from bot.metastudio.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from bot.metastudio.retry import RetryPolicy
from tests.conftest import AK, FAST_RETRY, JOB, ROOM, SK
from tests.standins.metastudio import INVALID, UNAUTHORIZED, Fault, MetaStudioStandIn

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


async def test_get_job_and_room_are_typed_and_tolerate_new_fields(client: MetaStudioClient) -> None:
    job = await client.get_job(ROOM, JOB, "ops-alice")
    assert job.known_state is JobState.PROCESSING and job.is_live
    assert job.room_name == "Spring sale" and job.started_at is not None and job.request_id
    room = await client.get_room(ROOM, "ops-alice")
    assert room.room_name == "Spring sale" and room.request_id


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


async def test_a_500_is_retried_and_the_retry_succeeds(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("status", status=500))
    assert (await client.stop_job(ROOM, JOB, "ops-alice")).request_id
    assert len(metastudio.calls("POST", "/stop")) == 2


async def test_a_persistent_500_ends_as_the_documented_error(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("status", status=500, times=10))
    with pytest.raises(MetaStudioError) as raised:
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert (raised.value.status, raised.value.error_code) == (500, "MSS.00000004")
    assert len(metastudio.calls("POST", "/stop")) == FAST_RETRY.attempts


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
        with pytest.raises(MetaStudioError) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert raised.value.status == 429 and raised.value.retry_after == 60
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


async def test_a_dropped_stop_is_unknown(
    client: MetaStudioClient, metastudio: MetaStudioStandIn
) -> None:
    metastudio.inject(JOB, Fault("drop"))
    with pytest.raises(OutcomeUnknown):
        await client.stop_job(ROOM, JOB, "ops-alice")
    assert metastudio.jobs[JOB].state == "PROCESSING"


async def test_a_slow_stop_times_out_as_unknown(metastudio: MetaStudioStandIn) -> None:
    metastudio.inject(JOB, Fault("slow", seconds=1.0))
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
        with pytest.raises(MetaStudioError) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert (raised.value.status, raised.value.error_code, raised.value.error_msg) == (
        401,
        "MSS.00000001",
        "Unauthorized",
    )
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
