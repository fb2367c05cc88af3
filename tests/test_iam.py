"""IAM password auth against the stand-in's IAM, over real HTTP: timeouts, retries, typed
failures, tolerant token answers, and one refresh per stale token."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.metastudio import IamError, MetaStudioClient, OutcomeUnknown
from bot.metastudio.auth import IamPasswordAuth
from bot.metastudio.retry import RetryPolicy
from bot.metastudio.transport import MAX_READS_IN_FLIGHT
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from tests.builders import FAST_RETRY, JOB, ROOM

USER = ("acme", "bot", "pw")


def iam_client(
    metastudio: MetaStudioStandIn,
    *,
    password: str = "pw",
    timeout: float = 5.0,
    retry: RetryPolicy = FAST_RETRY,
) -> MetaStudioClient:
    auth = IamPasswordAuth(
        iam_endpoint=metastudio.url,
        username="bot",
        password=SecretStr(password),
        domain="acme",
        project_id=metastudio.project_id,
    )
    return MetaStudioClient(
        base_url=metastudio.url,
        project_id=metastudio.project_id,
        auth=auth,
        retry=retry,
        timeout=httpx.Timeout(timeout),
    )


@pytest.fixture(autouse=True)
def iam_user(metastudio: MetaStudioStandIn) -> None:
    metastudio.iam_users[USER] = 24 * 3600


async def test_an_iam_that_never_answers_times_out_as_an_iam_error(
    metastudio: MetaStudioStandIn,
) -> None:
    metastudio.iam_faults.append(Fault("slow", seconds=3600, times=10))
    started = time.monotonic()
    async with iam_client(metastudio, timeout=0.3) as client:
        with pytest.raises(IamError) as raised:
            await client.get_job(ROOM, JOB, "ops-alice")
    assert time.monotonic() - started < 3
    assert raised.value.status == 0 and raised.value.code == "IAM.Unreachable"
    assert "ReadTimeout" in str(raised.value)
    assert metastudio.iam_calls == FAST_RETRY.attempts and metastudio.calls() == []


async def test_a_stop_whose_token_never_comes_is_not_an_unknown_outcome(
    metastudio: MetaStudioStandIn,
) -> None:
    """Nothing reached MetaStudio, so the stop is known not to have happened."""
    metastudio.iam_faults.append(Fault("slow", seconds=3600, times=10))
    async with iam_client(metastudio, timeout=0.3) as client:
        with pytest.raises(IamError):
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert metastudio.calls("POST", "/stop") == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=503, body={"error": {"code": "IAM.5000", "message": "busy"}}),
        Fault("status", status=429, body="Too Many Requests"),
        Fault("drop"),
    ],
    ids=["503", "429", "dropped"],
)
async def test_iam_5xx_429_and_dropped_connections_are_retried(
    metastudio: MetaStudioStandIn, fault: Fault
) -> None:
    metastudio.iam_faults.append(fault)
    async with iam_client(metastudio) as client:
        assert (await client.stop_job(ROOM, JOB, "ops-alice")).request_id
    assert metastudio.iam_calls == 2 and len(metastudio.calls("POST", "/stop")) == 1


async def test_a_persistent_iam_outage_ends_as_an_iam_error_within_the_attempts(
    metastudio: MetaStudioStandIn,
) -> None:
    metastudio.iam_faults.append(Fault("status", status=502, body="<html>bad</html>", times=99))
    async with iam_client(metastudio) as client:
        with pytest.raises(IamError) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert (raised.value.status, raised.value.code) == (502, "IAM.TokenFailed")
    assert raised.value.message == "<html>bad</html>" and raised.value.request_id
    assert metastudio.iam_calls == FAST_RETRY.attempts and metastudio.calls() == []


async def test_a_wrong_password_is_refused_once_and_never_echoed(
    metastudio: MetaStudioStandIn,
) -> None:
    async with iam_client(metastudio, password="hunter2") as client:
        with pytest.raises(IamError) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    assert (raised.value.status, raised.value.code) == (401, "IAM.0002")
    assert "hunter2" not in str(raised.value)
    assert metastudio.iam_calls == 1 and metastudio.calls() == []


async def test_a_huge_hostile_iam_error_is_cut_and_made_safe(
    metastudio: MetaStudioStandIn,
) -> None:
    message = "\x1b[31mdenied\r\n2026-01-01 INFO forged line\x00" + "x" * 100_000
    metastudio.iam_faults.append(
        Fault("status", status=403, body={"error": {"code": "IAM.\n0001", "message": message}})
    )
    async with iam_client(metastudio) as client:
        with pytest.raises(IamError) as raised:
            await client.get_job(ROOM, JOB, "ops-alice")
    assert raised.value.code == "IAM. 0001"
    assert raised.value.message.startswith("[31mdenied 2026-01-01 INFO forged line x")
    assert len(raised.value.message) <= 300
    assert not any(ord(c) < 32 for c in str(raised.value))


async def test_a_token_answer_without_a_token_is_an_iam_error(
    metastudio: MetaStudioStandIn,
) -> None:
    metastudio.iam_faults.append(Fault("status", status=201, body={"token": {}}))
    async with iam_client(metastudio) as client:
        with pytest.raises(IamError) as raised:
            await client.get_job(ROOM, JOB, "ops-alice")
    assert raised.value.status == 201 and "X-Subject-Token" in raised.value.message


@pytest.mark.parametrize(
    "expires_at", [12345, ["2026"], {"at": "now"}, "not a time", "", True, 1.5e300]
)
async def test_an_unreadable_expires_at_still_gives_a_working_token(
    metastudio: MetaStudioStandIn, expires_at: Any
) -> None:
    metastudio.iam_expires_at = expires_at
    async with iam_client(metastudio) as client:
        await client.get_job(ROOM, JOB, "ops-alice")
        await client.get_job(ROOM, JOB, "ops-alice")
    assert metastudio.iam_calls == 1 and metastudio.auth_failures == 0


async def test_token_lifetime_is_measured_on_iams_clock(metastudio: MetaStudioStandIn) -> None:
    """IAM's clock 20 min behind ours, a 10 min token: by our clock it expired before it was
    issued, by IAM's (its Date header) it is good for 5 more minutes before renewal."""
    metastudio.iam_users[USER] = 600
    metastudio.clock_offset = -timedelta(minutes=20)
    async with iam_client(metastudio) as client:
        for _ in range(3):
            await client.get_job(ROOM, JOB, "ops-alice")
    assert metastudio.iam_calls == 1


async def test_a_burst_of_401s_renews_the_token_once(metastudio: MetaStudioStandIn) -> None:
    async with iam_client(metastudio) as client:
        await client.get_job(ROOM, JOB, "ops-alice")
        metastudio.tokens.clear()  # IAM revoked it: every call in flight now gets a 401
        # As many reads as may be in flight leave with the revoked token; their 401s come back
        # one by one, most of them after the token was renewed: those must not renew it again.
        reads = MAX_READS_IN_FLIGHT
        metastudio.latencies = [0.05 + 0.04 * n for n in range(reads)]
        calls = (client.get_job(ROOM, JOB, "ops-alice") for _ in range(reads))
        jobs = await asyncio.gather(*calls)
    assert all(job.is_live for job in jobs)
    assert metastudio.iam_calls == 2 and metastudio.auth_failures == reads


class _TokensMetaStudioForgets(set[str]):
    """IAM issues tokens (``add``) that MetaStudio never learns of."""

    def add(self, element: str) -> None:
        pass


async def test_a_401_after_renewal_is_answered_not_looped(metastudio: MetaStudioStandIn) -> None:
    """MetaStudio refuses even a fresh token: one repeat with it, then its answer (and the
    read that follows a refused stop does the same once: bounded, not a loop)."""
    async with iam_client(metastudio) as client:
        await client.get_job(ROOM, JOB, "ops-alice")
        metastudio.tokens = _TokensMetaStudioForgets()
        with pytest.raises(OutcomeUnknown) as raised:  # refused, and the read is refused too
            await client.stop_job(ROOM, JOB, "ops-alice")
    said = raised.value.answer
    assert raised.value.refused and said is not None and said.status == 401
    assert metastudio.iam_calls == 3 and len(metastudio.calls("POST", "/stop")) == 2
    assert len(metastudio.calls("GET", JOB)) == 1 + 2


async def test_a_resent_stop_that_gets_no_token_is_an_unknown_outcome(
    metastudio: MetaStudioStandIn,
) -> None:
    """The first stop was answered 504 and the job read live; MetaStudio refuses the token the
    re-send carries and IAM refuses to renew it. The first stop was sent and may yet take
    effect: its outcome is unknown (read, then watch), never "no token, nothing was sent"."""
    async with iam_client(metastudio) as client:
        await client.get_job(ROOM, JOB, "ops-alice")  # a token in hand
        metastudio.inject(JOB, Fault("status", status=504, body="<html>Gateway Timeout</html>"))
        metastudio.inject(JOB, Fault("status", status=401, body={"error_code": "MSS.00000401"}))
        refused = {"error": {"code": "IAM.0001", "message": "the user is disabled"}}
        metastudio.iam_faults.append(Fault("status", status=403, body=refused))
        with pytest.raises(OutcomeUnknown) as raised:
            await client.stop_job(ROOM, JOB, "ops-alice")
    said = raised.value.answer
    assert said is not None and said.status == 504 and not raised.value.refused
    assert "nothing was sent" not in raised.value.description
    assert metastudio.iam_calls == 2 and len(metastudio.calls("POST", "/stop")) == 2
