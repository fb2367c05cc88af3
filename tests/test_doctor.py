"""``python -m bot check`` as a real process against the stand-ins: bounded probes, network
failures as FAIL lines with a fix, unbuffered output, and the clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.doctor import PROBE_SECONDS
from bot.sandbox.standins.metastudio import NOT_FOUND, TENANT_JOBS, Fault, MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from tests.builders import bot_settings
from tests.test_process import environment

ROOT = Path(__file__).resolve().parent.parent
IAM = {
    "huaweicloud_sdk_ak": None,
    "huaweicloud_sdk_sk": None,
    "huaweicloud_iam_username": "bot",
    "huaweicloud_iam_password": "pw-SECRET",
    "huaweicloud_iam_domain": "acme",
}


async def check(env: dict[str, str], cwd: Path, within: float = 30) -> tuple[int, str, str, float]:
    """Run ``python -m bot check`` in ``cwd`` (no stray .env); (exit code, out, err, seconds)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode(), time.monotonic() - started


@pytest.fixture
async def dropping_server() -> AsyncIterator[str]:
    """A server that reads each request and closes the connection without a word."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def test_a_slack_that_drops_the_connection_is_a_fail_line_not_a_traceback(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, dropping_server: str, tmp_path: Path
) -> None:
    settings = bot_settings(metastudio, slack, slack_api_url=dropping_server + "/api/")
    code, out, err, _ = await check(environment(settings), tmp_path)
    assert code == 1
    assert f"FAIL Slack bot token: cannot reach {dropping_server}/api/ (ServerDisconnected" in out
    assert "Fix: check SLACK_API_URL and the network" in out
    assert "OK   MetaStudio (AK/SK)" in out  # the other probes still ran
    assert "Traceback" not in out + err


async def test_an_iam_that_never_answers_ends_within_the_probe_bound_output_unbuffered(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    """While the MetaStudio probe waits on IAM, what was already found is already out (stdout
    is a pipe here); then the probe gives up at its bound, whatever the client's timeout."""
    metastudio.iam_users[("acme", "bot", "pw-SECRET")] = 3600
    metastudio.iam_faults.append(Fault("slow", seconds=3600, times=100))
    settings = bot_settings(
        metastudio, slack, **IAM, huaweicloud_iam_endpoint=metastudio.url, metastudio_timeout=60
    )
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        env={**environment(settings), "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), PROBE_SECONDS - 2)
        access = await asyncio.wait_for(process.stdout.readline(), PROBE_SECONDS - 2)
        while (
            store := await asyncio.wait_for(process.stdout.readline(), PROBE_SECONDS - 2)
        ).startswith((b"OK   access of ", b"OK   stream watch")):  # one line a person, the watch
            pass
        second = await asyncio.wait_for(process.stdout.readline(), PROBE_SECONDS - 2)
        assert process.returncode is None  # still waiting on IAM
        rest, err = await asyncio.wait_for(process.communicate(), PROBE_SECONDS + 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    took = time.monotonic() - started
    assert first.startswith(b"OK   configuration") and access.startswith(b"OK   access")
    assert store.startswith(b"OK   state store")
    assert second.startswith(b"OK   Slack bot token")
    out = rest.decode()
    assert process.returncode == 1 and took < PROBE_SECONDS + 8
    assert (
        f"FAIL MetaStudio: cannot reach MetaStudio or IAM (no answer within {PROBE_SECONDS:.0f} s)"
        in out
    )
    assert "HUAWEICLOUD_IAM_ENDPOINT" in out and "SECRET" not in out + err.decode()
    assert "Traceback" not in out + err.decode() and metastudio.calls() == []


async def test_a_wrong_iam_password_names_iam_and_its_settings(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = bot_settings(metastudio, slack, **IAM, huaweicloud_iam_endpoint=metastudio.url)
    code, out, err, _ = await check(environment(settings), tmp_path)
    assert code == 1
    assert f"FAIL IAM at {metastudio.url}: IAM: HTTP 401 IAM.0002" in out
    assert "Fix: check HUAWEICLOUD_IAM_USERNAME, HUAWEICLOUD_IAM_PASSWORD" in out
    assert "FAIL MetaStudio" not in out and "SECRET" not in out + err


async def test_a_clock_20_min_off_is_blamed_not_the_credentials(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    metastudio.clock_offset = timedelta(minutes=20)  # we are 20 min behind MetaStudio
    code, out, err, _ = await check(environment(bot_settings(metastudio, slack)), tmp_path)
    assert code == 1
    assert "FAIL MetaStudio" in out and "HTTP 401 MSS.00000001" in out
    assert "this machine's clock is 20 min off (behind MetaStudio's)" in out
    assert "Fix: set this machine's clock right (NTP)" in out
    assert "check HUAWEICLOUD_SDK_AK/SK" not in out
    assert "FAIL clock: this machine's clock is 20 min off" in out
    assert err == ""  # the report is the whole output: no log line beside it


async def test_a_good_clock_is_reported(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    metastudio.clock_offset = timedelta(minutes=2)
    code, out, _, _ = await check(environment(bot_settings(metastudio, slack)), tmp_path)
    assert code == 0, out
    assert re.search(r"OK   clock: within 1[12]\d s of MetaStudio's", out)  # 120 s, ± 1


async def test_an_endpoint_answering_html_is_named_as_such(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    metastudio.inject("rooms", Fault("status", on="list", status=200, body="<html>hi</html>"))
    settings: dict[str, Any] = bot_settings(metastudio, slack)
    code, out, _, _ = await check(environment(settings), tmp_path)
    assert code == 1
    assert "answered, but not as MetaStudio does (not JSON (text/plain" in out
    assert "METASTUDIO_ENDPOINT is MetaStudio's API" in out


async def test_a_clock_off_only_warns_with_a_token(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    metastudio.clock_offset = -timedelta(minutes=20)
    metastudio.tokens.add("tok")
    token = {"huaweicloud_sdk_ak": None, "huaweicloud_sdk_sk": None, "metastudio_auth_token": "tok"}
    code, out, _, _ = await check(environment(bot_settings(metastudio, slack, **token)), tmp_path)
    assert code == 0, out
    assert "OK   MetaStudio (fixed IAM token)" in out
    assert "WARN clock: this machine's clock is 20 min off (ahead of MetaStudio's)" in out


async def test_the_tenant_job_list_is_reported_usable(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    code, out, _, _ = await check(environment(bot_settings(metastudio, slack)), tmp_path)
    assert code == 0, out
    assert "OK   MetaStudio tenant-wide job list: /stoplive lists in one call (1 live now)" in out


@pytest.mark.parametrize("status", [403, 404])
async def test_a_refused_tenant_job_list_is_a_warning_naming_the_fallback(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path, status: int
) -> None:
    metastudio.inject(TENANT_JOBS, Fault("status", on="list", status=status, body=NOT_FOUND))
    code, out, _, _ = await check(environment(bot_settings(metastudio, slack)), tmp_path)
    assert code == 0, out  # the bot works either way
    assert (
        f"WARN MetaStudio tenant-wide job list (ListSmartLiveJobs): refused (HTTP {status}" in out
    )
    assert "lists live jobs room by room, one call per live room" in out


async def test_check_prints_the_access_in_force(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    room = "24bad716-87b1-45e5-8912-6102f7693265"
    allowlist = {
        "U0BOB0002": {"app_user_id": "ops-bob", "stop_all": True},
        "U0ALICE01": {"app_user_id": "ops-alice", "rooms": [room]},
    }
    settings = bot_settings(
        metastudio,
        slack,
        stoplive_allowlist=json.dumps(allowlist),
        stoplive_stop_all_approval="two-person",
    )
    code, out, _, _ = await check(environment(settings), tmp_path)
    assert code == 0, out
    lines = out.splitlines()
    start = lines.index(
        "OK   access: /stoplive works in any channel (STOPLIVE_ALLOWED_CHANNELS is not set); "
        "2 people may stop"
    )
    assert lines[start + 1 : start + 4] == [  # one line a person, in the probes' format
        f"OK   access of U0ALICE01: as MetaStudio user ops-alice, in room {room}",
        "OK   access of U0BOB0002: as MetaStudio user ops-bob, in every room; /stoplive all too",
        "OK   stop all: /stoplive all: the requester confirms, a second person with the grant "
        "approves (STOPLIVE_STOP_ALL_APPROVAL=two-person)",
    ]

    narrowed = {**settings, "stoplive_allowed_channels": "C0OPS0002,C0OPS0001"}
    code, out, _, _ = await check(environment(narrowed), tmp_path)
    assert "OK   access: /stoplive works in channels C0OPS0001, C0OPS0002; 2 people" in out


async def test_check_says_when_nobody_may_stop_and_refuses_a_misspelt_name(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    code, out, err, _ = await check(
        environment(bot_settings(metastudio, slack, stoplive_allowlist="{}")), tmp_path
    )
    assert code == 0, out + err
    assert "WARN access: nobody may stop streams (the allowlist is empty)" in out
    assert "WARN MetaStudio: not checked: the allowlist is empty" in out

    misspelt = {**environment(bot_settings(metastudio, slack)), "STOPLIVE_ALLOWED_CHANNEL": "C0X1"}
    code, out, _, _ = await check(misspelt, tmp_path)
    assert code == 1
    assert "STOPLIVE_ALLOWED_CHANNEL: not a stoplive setting (did you mean" in out


async def test_check_says_whether_the_stream_watch_is_on_and_where_it_posts(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    code, out, _, _ = await check(environment(bot_settings(metastudio, slack)), tmp_path)
    assert "OK   stream watch: off (STOPLIVE_NOTIFY_CHANNEL is not set)" in out.splitlines()
    watching = bot_settings(
        metastudio,
        slack,
        stoplive_notify_channel="C0ONCALL1",
        stoplive_long_live_hours="10",
        stoplive_allowed_channels="C0OPS0001",
    )
    code, out, _, _ = await check(environment(watching), tmp_path)
    assert code == 0, out
    assert (
        "WARN stream watch: on, posting to C0ONCALL1 every 60 s at most: ends with an error, "
        "streams live over 10 h; /stoplive and its notes' Stop… buttons are refused there. "
        "Fix: add C0ONCALL1 to STOPLIVE_ALLOWED_CHANNELS so that people can act where they are "
        "told"
    ) in out.splitlines()


async def test_check_warns_when_the_notify_channel_is_not_an_allowed_one_whatever_is_told(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    """No long lives told (no Stop… button on any note), yet people told of a blocked stream
    in C0ONCALL1 type /stoplive there, and are refused."""
    newcomer = bot_settings(
        metastudio,
        slack,
        stoplive_notify_channel="C0ONCALL1",
        stoplive_allowed_channels="C0123ABCD",
    )
    code, out, _, _ = await check(environment(newcomer), tmp_path)
    assert code == 0, out
    assert (
        "WARN stream watch: on, posting to C0ONCALL1 every 60 s at most: ends with an error; "
        "/stoplive is refused there. Fix: add C0ONCALL1 to STOPLIVE_ALLOWED_CHANNELS so that "
        "people can act where they are told"
    ) in out.splitlines(), out
    allowed = {**newcomer, "stoplive_allowed_channels": "C0123ABCD,C0ONCALL1"}
    code, out, _, _ = await check(environment(allowed), tmp_path)
    assert "OK   stream watch: on, posting to C0ONCALL1" in out


async def test_check_warns_of_stream_watch_settings_that_do_nothing_without_its_channel(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    idle = bot_settings(
        metastudio, slack, stoplive_long_live_hours="10", stoplive_notify_starts="true"
    )
    code, out, _, _ = await check(environment(idle), tmp_path)
    assert code == 0, out
    assert (
        "WARN stream watch: off (STOPLIVE_NOTIFY_CHANNEL is not set): STOPLIVE_LONG_LIVE_HOURS, "
        "STOPLIVE_NOTIFY_STARTS do nothing. Fix: set STOPLIVE_NOTIFY_CHANNEL to the channel to "
        "tell, or remove them"
    ) in out.splitlines(), out
    for name, value in [("stoplive_notify_ends", "all"), ("stoplive_notify_seconds", "30")]:
        code, out, _, _ = await check(
            environment(bot_settings(metastudio, slack, **{name: value})), tmp_path
        )
        assert f"{name.upper()} does nothing" in out, out
