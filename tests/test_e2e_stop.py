"""/stoplive end to end: signed HTTP posts in, Slack and MetaStudio stand-ins out."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.sandbox.standins.metastudio import Fault
from bot.stopflow.tickets import Ticket, TicketKey
from tests.builders import JOB, ROOM, AuditLines
from tests.conftest import BotFactory
from tests.harness import (
    ALICE,
    BOB,
    CHANNEL,
    MALLORY,
    SIGNING_SECRET,
    buttons,
    command_body,
    signed_headers,
)

STOP = f"{ROOM} {JOB}"


@pytest.mark.parametrize("text", ["help", "  HELP ", "?", f"{ROOM} {JOB} three"])
async def test_help_and_wrong_arguments_answer_with_usage(start_bot: BotFactory, text: str) -> None:
    bot = await start_bot()
    response, _ = await bot.command(text)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "/stoplive &lt;room_id&gt; &lt;job_id&gt;" in body["text"] and "Example" in body["text"]
    assert bot.metastudio.seen == []


async def test_someone_off_the_allowlist_is_refused_without_any_api_call(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_contact="#ops-leads")
    response, hook = await bot.command(STOP, user=MALLORY)
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "not on the stoplive allowlist" in body["text"] and "#ops-leads" in body["text"]
    assert bot.metastudio.seen == [] and bot.slack.posts(hook) == []
    [line] = audit_lines()
    assert line["outcome"] == "refused_not_allowlisted" and line["slack_user"] == MALLORY


async def test_confirm_stops_the_job_and_tells_the_channel(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    response, hook = await bot.command(STOP)
    assert response.status_code == 200 and response.text == ""  # acked at once, nothing shown yet
    confirmation = await bot.first_post(hook)
    assert confirmation["response_type"] == "ephemeral"
    confirm = next(
        e
        for b in confirmation["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "stoplive.confirm"
    )
    assert confirm["style"] == "danger"
    assert "PROCESSING" in json.dumps(confirmation) and "Spring sale" in json.dumps(confirmation)
    assert bot.metastudio.calls("POST", "/stop") == []  # nothing stopped before the click

    click, click_hook = await bot.click("stoplive.confirm", confirm["value"])
    assert click.status_code == 200
    final = await bot.slack.wait_for(bot.final_channel_message)

    [stop] = bot.metastudio.calls("POST", "/stop")
    assert stop.headers["X-App-UserId"] == "ops-alice"
    assert stop.headers["X-Project-Id"] == bot.metastudio.project_id
    assert stop.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=")
    assert stop.headers["X-Sdk-Date"].endswith("Z") and bot.metastudio.auth_failures == 0

    [posted] = bot.slack.calls("chat.postMessage")
    assert posted.args["channel"] == CHANNEL
    assert final["ts"] == bot.slack.calls("chat.update")[-1].args["ts"]
    assert final["text"].startswith(f"✅ Stopped: `Spring sale` · by <@{ALICE}>")
    assert f"Room `{ROOM}` · Job `{JOB}`" in final["text"]
    assert "after 1 h 02 min" in final["text"]
    assert "MetaStudio request `" in json.dumps(final["blocks"])

    requester_view = await bot.slack.wait_for(
        lambda: [p for p in bot.slack.posts(click_hook) if "Stopped" in p["text"]]
    )
    assert requester_view[0]["replace_original"] is True
    assert "⏳ Stopping `Spring sale`…" in bot.slack.posts(click_hook)[0]["text"]

    assert await bot.stoplive.background.drain(5)
    outcome = [line for line in audit_lines() if line["event"] == "outcome"]
    assert outcome and outcome[0]["outcome"] == "stopped" and outcome[0]["app_user"] == "ops-alice"
    assert outcome[0]["request_id"] and isinstance(outcome[0]["latency_ms"], int)


async def test_only_the_requester_can_confirm(start_bot: BotFactory) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    _, bob_hook = await bot.click("stoplive.confirm", value, user=BOB)
    [answer] = [await bot.first_post(bob_hook)]
    assert f"only <@{ALICE}> can confirm" in answer["text"] and answer["replace_original"] is False
    assert bot.metastudio.calls("POST", "/stop") == []
    # ... and Alice still can afterwards
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(bot.final_channel_message)
    assert len(bot.metastudio.calls("POST", "/stop")) == 1


async def test_cancel_stops_nothing_and_disarms_the_confirmation(start_bot: BotFactory) -> None:
    bot = await start_bot()
    value, command_hook = await bot.confirmation(STOP)
    cancel = buttons(await bot.first_post(command_hook))["stoplive.cancel"]
    _, hook = await bot.click("stoplive.cancel", cancel)
    assert "Cancelled" in (await bot.first_post(hook))["text"]
    _, late = await bot.click("stoplive.confirm", value)  # a late click on the old button
    # the late click's own answer, not anything said before it
    assert "Already used" in (await bot.first_post(late))["text"]
    assert await bot.stoplive.background.drain(5)
    assert bot.metastudio.calls("POST", "/stop") == [] and bot.slack.calls("chat.postMessage") == []


async def test_an_expired_confirmation_stops_nothing(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_confirm_ttl=1)
    value, _ = await bot.confirmation(STOP)
    await asyncio.sleep(1.1)
    _, hook = await bot.click("stoplive.confirm", value)
    assert "expired" in (await bot.first_post(hook))["text"]
    assert bot.metastudio.calls("POST", "/stop") == []
    assert any(line["outcome"] == "expired" for line in audit_lines())


async def test_double_click_stops_once(start_bot: BotFactory) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    await asyncio.gather(*(bot.click("stoplive.confirm", value) for _ in range(5)))
    await bot.slack.wait_for(bot.final_channel_message)
    assert len(bot.metastudio.calls("POST", "/stop")) == 1
    assert len(bot.slack.calls("chat.postMessage")) == 1


async def test_an_api_error_is_reported_with_code_status_and_request_id(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.metastudio.inject(
        JOB,
        Fault(
            "status",
            status=400,
            body={"error_code": "MSS.00000003", "error_msg": "Invalid parameter"},
        ),
    )
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    message = await bot.slack.wait_for(lambda: bot.slack.calls("chat.postMessage"))
    text = message[0].args["text"]
    assert text.startswith("❌ MetaStudio refused to stop") and "Nothing was stopped" in text
    assert "HTTP 400 `MSS.00000003`: `Invalid parameter`" in text
    assert "MetaStudio request `" in json.dumps(message[0].args["blocks"])
    assert bot.metastudio.jobs[JOB].state == "PROCESSING"


async def test_a_500_that_a_retry_fixes_ends_in_success(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.metastudio.inject(JOB, Fault("status", status=500))
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert (
        final["text"].startswith("✅ Stopped:") and len(bot.metastudio.calls("POST", "/stop")) == 2
    )


async def test_not_in_channel_falls_back_to_the_commands_response_url(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.slack.refused_channels[CHANNEL] = "not_in_channel"
    value, command_hook = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    posted = await bot.slack.wait_for(
        lambda: [p for p in bot.slack.posts(command_hook) if p.get("response_type") == "in_channel"]
    )
    assert posted[0]["text"].startswith("✅ Stopped:") and len(posted) == 1


@pytest.mark.parametrize(
    "text",
    [
        f"{ROOM} <!here>",
        f"{ROOM} <@U0BOB0002>",
        f"{ROOM} ../../../v1/other/stop",
        f"{ROOM} {JOB}?force=true",
        f"{ROOM} @channel",
        "x" * 300,
    ],
)
async def test_hostile_input_is_refused_kindly_and_never_echoed_raw(
    start_bot: BotFactory, text: str
) -> None:
    bot = await start_bot()
    response, _ = await bot.command(text)
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert (
        "<!" not in body["text"]
        and "<@U0BOB" not in body["text"]
        and "@channel" not in body["text"]
    )
    assert body["text"].startswith("⚠️ Not understood:") and "Usage" in body["text"]
    assert bot.metastudio.seen == []


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "no signature", "stale timestamp", "changed body"],
)
async def test_badly_signed_requests_get_401_and_do_nothing(
    start_bot: BotFactory, tamper: str
) -> None:
    bot = await start_bot()
    body = command_body(STOP, ALICE, CHANNEL, bot.slack.response_url("x"))
    headers = signed_headers(body)
    if tamper == "wrong secret":
        headers = signed_headers(body, secret="not-the-secret")
    elif tamper == "no signature":
        del headers["X-Slack-Signature"]
    elif tamper == "stale timestamp":
        headers = signed_headers(body, timestamp=int(time.time()) - 600)
    else:
        body = body.replace("U0ALICE01", "U0BOB0002")
    response = await bot.http.post(bot.events_url, content=body, headers=headers)
    assert response.status_code == 401
    assert bot.metastudio.seen == [] and bot.slack.url_posts == []


async def test_healthz(start_bot: BotFactory) -> None:
    bot = await start_bot()
    response = await bot.http.get(bot.events_url.replace("/slack/events", "/healthz"))
    assert response.status_code == 200 and response.json() == {"ok": True}


async def test_the_confirmation_button_carries_what_the_click_needs(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_confirm_ttl=120)
    value, hook = await bot.confirmation(STOP)
    ticket = Ticket.decode(
        value, TicketKey.from_signing_secret(SIGNING_SECRET), 120, purpose="confirm"
    )
    assert isinstance(ticket, Ticket)
    assert (ticket.room_id, ticket.job_id, ticket.requester, ticket.channel_id) == (
        ROOM,
        JOB,
        ALICE,
        CHANNEL,
    )
    assert ticket.response_url.endswith(hook) and 110 < ticket.expires_at - time.time() <= 120
    assert len(value) < 2000  # Slack's limit for a button value
    assert set(buttons(await bot.first_post(hook))) == {"stoplive.confirm", "stoplive.cancel"}
