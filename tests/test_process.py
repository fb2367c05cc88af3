"""``python -m bot`` as a real process: start-up errors, SIGTERM, and ``check``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.sandbox.redis_server import RedisServer
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from tests.builders import AK, JOB, ROOM, bot_settings
from tests.harness import ALICE, CHANNEL, action_payload, buttons, command_body, signed_headers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def environment(settings: dict[str, Any]) -> dict[str, str]:
    """Built from scratch: nothing of the developer's SLACK_*/STOPLIVE_* (or any other) vars."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": REPO, "LANG": "C.UTF-8"}
    env.update(
        {k.upper(): str(v) for k, v in settings.items() if not k.startswith("_") and v is not None}
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_bot(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=tempfile.mkdtemp(prefix="stoplive-"),  # no .env there
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_bad_configuration_names_every_problem_and_no_secret(tmp_path: Any) -> None:
    env = environment(
        {
            "huaweicloud_sdk_ak": "AK-ONLY",
            "metastudio_auth_token": "tok-SECRET-123",
            "slack_signing_secret": "sign-SECRET-456",
            "stoplive_allowlist": "{not json",
        }
    )
    process = await run_bot(env=env)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    text = err.decode()
    assert process.returncode == 1
    for needle in (
        "METASTUDIO_PROJECT_ID: required",
        "SLACK_BOT_TOKEN: required",
        "MetaStudio auth: choose one of AK/SK, fixed IAM token",
        "STOPLIVE_ALLOWLIST: not valid JSON",
    ):
        assert needle in text
    assert "SECRET-" not in text + out.decode()  # neither secret value, only names


async def test_sigterm_lets_an_in_flight_stop_finish_and_post(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    port = free_port()
    env = environment(bot_settings(metastudio, slack, port=port))
    metastudio.inject(JOB, Fault("slow", seconds=1.0))
    process = await run_bot(env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(100):
                try:
                    if (await http.get(url + "/healthz")).status_code == 200:
                        break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            body = command_body(f"{ROOM} {JOB}", ALICE, CHANNEL, slack.response_url("cmd"))
            assert (
                await http.post(url + "/slack/events", content=body, headers=signed_headers(body))
            ).status_code == 200
            value = buttons(await slack.wait_for(lambda: (slack.posts("cmd") or [None])[0]))[
                "stoplive.confirm"
            ]
            payload = action_payload(
                "stoplive.confirm", value, ALICE, CHANNEL, slack.response_url("click")
            )
            body = urlencode({"payload": json.dumps(payload)})
            assert (
                await http.post(url + "/slack/events", content=body, headers=signed_headers(body))
            ).status_code == 200
            await slack.wait_for(lambda: metastudio.calls("POST", "/stop"))
            process.send_signal(signal.SIGTERM)  # mid-stop: MetaStudio takes 1 s to answer
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert any(c.args["text"].startswith("✅ Stopped:") for c in slack.calls("chat.update"))
    audit = [json.loads(line) for line in out.decode().splitlines()]
    assert [a["outcome"] for a in audit if a["event"] == "outcome"] == ["stopped"]
    assert "all stops finished" in err.decode()
    assert "will be unused" not in err.decode()  # Bolt's start-up warning is gone
    for line in err.decode().splitlines():  # every line one JSON object
        assert {"ts", "level", "logger", "msg"} <= json.loads(line).keys()


async def test_check_reports_what_works(metastudio: MetaStudioStandIn, slack: SlackStandIn) -> None:
    process = await run_bot("check", env=environment(bot_settings(metastudio, slack)))
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    report = out.decode()
    assert process.returncode == 0, report
    assert "OK   configuration: MetaStudio auth AK/SK, HTTP mode" in report
    assert "OK   Slack bot token: stoplive in Acme" in report
    assert "OK   MetaStudio (AK/SK)" in report and "signed read works" in report
    rooms, tenant_list = metastudio.calls("GET")  # the rooms' count, then the live jobs'
    assert rooms.path.endswith("/smart-live-rooms") and tenant_list.path.endswith(
        "/smart-live-jobs"
    )
    assert rooms.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}")
    assert "OK   MetaStudio tenant-wide job list" in report


async def test_check_says_exactly_what_to_fix(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    settings = bot_settings(
        metastudio, slack, huaweicloud_sdk_sk="wrong", slack_bot_token="xoxb-wrong"
    )
    process = await run_bot("check", env=environment(settings))
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    report = out.decode()
    assert process.returncode == 1
    assert "FAIL Slack bot token: invalid_auth. Fix: check SLACK_BOT_TOKEN" in report
    assert "FAIL MetaStudio" in report and "HTTP 401 MSS.00000001" in report
    assert "check HUAWEICLOUD_SDK_AK/SK" in report and "wrong" not in report.replace(
        "xoxb-wrong", ""
    )


async def test_a_port_in_use_is_one_line_naming_port(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await run_bot(env=environment(bot_settings(metastudio, slack, port=port)))
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    [line] = err.decode().splitlines()
    assert line.startswith("PORT: ") and f":{port} (already in use)" in line
    assert not out


async def test_a_refused_app_token_is_fatal(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    for token in ("xapp-", "xapp-1-revoked"):  # the bare placeholder, and one Slack refuses
        settings = bot_settings(metastudio, slack, stoplive_mode="socket", slack_app_token=token)
        process = await run_bot(env=environment(settings))
        _, err = await asyncio.wait_for(process.communicate(), 30)
        text = err.decode()
        assert process.returncode == 1, text
        assert "SLACK_APP_TOKEN: " in text and "Traceback" not in text
        assert token not in text.replace("xapp- followed", "").replace("(xapp-...,", "")
    [line] = text.splitlines()  # the one Slack refused: told in one line
    assert line.startswith("SLACK_APP_TOKEN: Slack refused it (invalid_auth)")


async def test_sigterm_while_connecting_is_honoured(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    slack.hold_connections = asyncio.Event()  # Slack never answers apps.connections.open
    settings = bot_settings(metastudio, slack, stoplive_mode="socket", slack_app_token="xapp-test")
    process = await run_bot(env=environment(settings))
    try:
        await slack.wait_for(lambda: slack.calls("apps.connections.open"))
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        slack.hold_connections.set()
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_debug_logs_keep_the_iam_token_out(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    metastudio.iam_users[("acme", "bot", "pw-SECRET-789")] = 24 * 3600
    settings = bot_settings(
        metastudio,
        slack,
        huaweicloud_sdk_ak=None,
        huaweicloud_sdk_sk=None,
        huaweicloud_iam_username="bot",
        huaweicloud_iam_password="pw-SECRET-789",
        huaweicloud_iam_domain="acme",
        huaweicloud_iam_endpoint=metastudio.url,
        stoplive_log_level="DEBUG",
    )
    process = await run_bot("check", "--logs", env=environment(settings))
    out, err = await asyncio.wait_for(process.communicate(), 30)
    logged = out.decode() + err.decode()
    assert process.returncode == 0, logged
    [token] = metastudio.tokens
    assert "X-Subject-Token" in logged  # httpcore did print the header: redacted, not absent
    assert token not in logged and "pw-SECRET-789" not in logged
    assert "[redacted]" in logged


async def test_check_opens_the_sqlite_journal(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.db"
    settings = bot_settings(metastudio, slack, stoplive_state_file=str(journal))
    process = await run_bot("check", env=environment(settings))
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert f"OK   state store: SQLite file {journal} answers" in out.decode()
    assert journal.exists()


async def test_check_fails_on_a_journal_it_cannot_open(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    journal = tmp_path / "no-such-folder" / "journal.db"
    settings = bot_settings(metastudio, slack, stoplive_state_file=str(journal))
    process = await run_bot("check", env=environment(settings))
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert "FAIL state store: SQLite file" in out.decode()
    assert "Fix: check STOPLIVE_STATE_FILE" in out.decode()


async def test_check_pings_redis_and_names_it_when_down(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, own_redis_server: RedisServer
) -> None:
    url = own_redis_server.url
    settings = bot_settings(metastudio, slack, stoplive_redis_url=url)
    process = await run_bot("check", env=environment(settings))
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert (
        process.returncode == 0 and "OK   state store: Redis (STOPLIVE_REDIS_URL)" in out.decode()
    )
    own_redis_server.stop()
    process = await run_bot("check", env=environment(settings))
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    report = out.decode()
    assert process.returncode == 1
    assert (
        "FAIL state store: Redis (STOPLIVE_REDIS_URL)" in report
        and "Fix: check STOPLIVE_REDIS_URL" in report
    )


async def test_start_up_leaves_nothing_for_the_first_stop_to_import() -> None:
    """A fresh interpreter, as a deployment starts: after start-up has settled, httpcore's
    async backend is imported (not by the first stop, mid-burst) and start-up's objects are
    frozen out of the collector."""
    script = (
        "import asyncio, gc, sys\n"
        "from bot.__main__ import settle_start_up\n"
        "assert 'anyio._backends._asyncio' not in sys.modules\n"
        "asyncio.run(settle_start_up())\n"
        "print('anyio._backends._asyncio' in sys.modules, gc.get_freeze_count() > 10_000)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode().split() == ["True", "True"]
