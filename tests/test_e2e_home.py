"""After the stop, end to end over the real transports: the Home tab, the outcome's buttons
(Open in MetaStudio, Check again, Stop again), the thread broadcast of a bad verdict, the
requester's "Done" note and the audit copy's origin."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.sandbox.standins.metastudio import Fault
from bot.sandbox.standins.slack import WORKSPACE_URL
from tests.builders import JOB, ROOM, AuditLines
from tests.conftest import BotFactory
from tests.harness import (
    ALICE,
    BOB,
    CHANNEL,
    MALLORY,
    Harness,
    action_payload,
    buttons,
    signed_bytes_headers,
)

STOP = f"{ROOM} {JOB}"
AUDIT = "C0AUDIT01"
OTHER_JOB = "7c1e0b2a-5d3f-4e6a-9b8c-0d1e2f3a4b5c"
CONSOLE = "https://console.example/metastudio/{region}/{project_id}/rooms/{room_id}/jobs/{job_id}"


def home_opened(user: str, tab: str = "home") -> dict[str, Any]:
    return {
        "token": "legacy-unused",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": "Ev0HOME01",
        "event_time": 1700000000,
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME001",
            "tab": tab,
            "event_ts": "1700000000.000100",
        },
    }


async def post_event(bot: Harness, body: dict[str, Any]) -> int:
    raw = json.dumps(body).encode()
    response = await bot.http.post(
        bot.events_url, content=raw, headers=signed_bytes_headers(raw, "application/json")
    )
    return response.status_code


async def stop(bot: Harness, *, user: str = ALICE) -> dict[str, Any]:
    """Confirm a stop of JOB and return the final channel message."""
    value, _ = await bot.confirmation(STOP, user)
    await bot.click("stoplive.confirm", value, user=user)
    assert await bot.stoplive.background.drain(20)
    final = bot.final_channel_message()
    assert final is not None
    return final


def thread_replies(bot: Harness) -> list[dict[str, Any]]:
    return [c.args for c in bot.slack.calls("chat.postMessage") if c.args.get("thread_ts")]


def home_text(bot: Harness, user: str) -> str:
    return json.dumps(bot.slack.home_views(user)[-1]["blocks"], ensure_ascii=False)


# --- the Home tab -----------------------------------------------------------------------------


async def test_the_home_tab_shows_access_and_the_last_day_of_stops(start_bot: BotFactory) -> None:
    bot = await start_bot()
    assert await post_event(bot, home_opened(ALICE)) == 200
    await bot.slack.wait_for(lambda: bot.slack.home_views(ALICE))
    first = home_text(bot, ALICE)
    assert "You may stop streams* as MetaStudio user `ops-alice`" in first
    assert "No stops in the last 24 h" in first

    final = await stop(bot)
    assert await post_event(bot, home_opened(ALICE)) == 200
    await bot.slack.wait_for(lambda: len(bot.slack.home_views(ALICE)) == 2)
    view = bot.slack.home_views(ALICE)[-1]
    assert view["type"] == "home"
    text = home_text(bot, ALICE)
    link = f"{WORKSPACE_URL}archives/{CHANNEL}/p{final['ts'].replace('.', '')}"
    assert "1 stop in the last 24 h" in text and "*✅ Stopped* · by <@U0ALICE01>" in text
    assert f"<{link}|channel message>" in text and f"Job `{JOB}`" in text


async def test_the_home_tab_tells_someone_off_the_allowlist_how_to_get_on_it(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot(stoplive_contact="#ops-leads")
    await stop(bot)
    assert await post_event(bot, home_opened(MALLORY)) == 200
    await bot.slack.wait_for(lambda: bot.slack.home_views(MALLORY))
    text = home_text(bot, MALLORY)
    assert "You may not stop streams" in text and "#ops-leads" in text
    assert JOB not in text  # no history for someone who may not stop streams


async def test_the_messages_tab_and_url_verification_are_answered_without_a_view(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    assert await post_event(bot, home_opened(ALICE, tab="messages")) == 200
    raw = json.dumps({"type": "url_verification", "challenge": "ch-42", "token": "x"}).encode()
    response = await bot.http.post(
        bot.events_url, content=raw, headers=signed_bytes_headers(raw, "application/json")
    )
    assert response.status_code == 200 and response.json() == {"challenge": "ch-42"}
    assert await bot.stoplive.background.drain(5)
    assert bot.slack.calls("views.publish") == []


async def test_the_home_tab_over_socket_mode(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_mode="socket", slack_app_token="xapp-test")
    envelope = await bot.slack.send_envelope("events_api", home_opened(BOB))
    await bot.slack.wait_for(lambda: envelope in bot.slack.acks)
    await bot.slack.wait_for(lambda: bot.slack.home_views(BOB))
    assert "as MetaStudio user `ops-bob`" in home_text(bot, BOB)


# --- the outcome's buttons --------------------------------------------------------------------


async def test_a_clean_stop_has_no_thread_reply_and_the_requester_gets_a_done_note(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot(stoplive_console_url=CONSOLE)
    value, _ = await bot.confirmation(STOP)
    _, click_hook = await bot.click("stoplive.confirm", value)
    assert await bot.stoplive.background.drain(20)
    final = bot.final_channel_message()
    assert final is not None and final["text"].startswith("✅ Stopped")
    assert thread_replies(bot) == []
    note = bot.slack.posts(click_hook)[-1]
    assert note["text"].startswith("✅ Stopped: `Spring sale`")
    assert note["text"].endswith(f"Done: result posted in <#{CHANNEL}>")
    assert "blocks" not in note  # a note, not a second copy of the channel message
    shown = {
        e["action_id"]: e for b in final["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    assert set(shown) == {"stoplive.open_console", "stoplive.check_again"}  # no Stop again
    project = bot.metastudio.project_id
    assert shown["stoplive.open_console"]["url"] == (
        f"https://console.example/metastudio/cn-north-4/{project}/rooms/{ROOM}/jobs/{JOB}"
    )
    response, _ = await bot.click("stoplive.open_console", "")  # a link still sends a click
    assert response.status_code == 200


async def test_without_a_console_url_there_is_no_console_button(start_bot: BotFactory) -> None:
    bot = await start_bot()
    final = await stop(bot)
    assert set(buttons(final)) == {"stoplive.check_again"}


async def test_a_still_live_verdict_is_broadcast_in_the_thread_and_offers_stop_again(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.3, stoplive_watch_seconds=0)
    bot.metastudio.inject(JOB, Fault("stays_live"))
    final = await stop(bot)
    assert final["text"].startswith("🔴 Still live")
    [reply] = thread_replies(bot)
    assert reply["thread_ts"] == final["ts"] and reply["reply_broadcast"] is True
    assert reply["channel"] == CHANNEL and reply["text"].startswith("🔴 Still live")
    again = buttons(final)
    assert again["stoplive.stop_again"] == again["stoplive.check_again"] == f"{ROOM} {JOB}"

    # Bob (on the allowlist) asks to stop it again: a confirmation of his own, then the stop
    _, hook = await bot.click("stoplive.stop_again", again["stoplive.stop_again"], user=BOB)
    confirmation = await bot.first_post(hook)
    assert (
        confirmation["replace_original"] is False and confirmation["response_type"] == "ephemeral"
    )
    assert confirmation["text"].startswith("Stop `Spring sale`?")
    assert len(bot.metastudio.calls("POST", "/stop")) == 1  # nothing stopped by the click itself
    await bot.click("stoplive.confirm", buttons(confirmation)["stoplive.confirm"], user=BOB)
    await bot.slack.wait_for(lambda: len(bot.metastudio.calls("POST", "/stop")) == 2)
    [second] = bot.metastudio.calls("POST", "/stop")[1:]
    assert second.headers["X-App-UserId"] == "ops-bob"
    assert await bot.stoplive.background.drain(20)
    assert [line["outcome"] for line in audit_lines("stop_again")] == ["confirmation_shown"]


async def test_check_again_reads_the_job_for_the_clicker_only(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    final = await stop(bot)
    value = buttons(final)["stoplive.check_again"]
    reads = len(bot.metastudio.calls("GET", JOB))
    _, hook = await bot.click("stoplive.check_again", value, user=BOB)
    answer = await bot.first_post(hook)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert answer["text"].startswith("✅ Ended: `Spring sale` is not live (Ended normally)")
    assert "SUCCEED" in answer["text"]
    [read] = bot.metastudio.calls("GET", JOB)[reads:]
    assert read.headers["X-App-UserId"] == "ops-bob"  # read as the clicker
    assert bot.metastudio.calls("POST", "/stop")[1:] == []
    [line] = audit_lines("check_again")
    assert line["outcome"] == "not_live" and line["slack_user"] == BOB


@pytest.mark.parametrize(
    ("user", "value", "said"),
    [
        (MALLORY, f"{ROOM} {JOB}", "not on the stoplive allowlist"),
        (ALICE, f"{ROOM} ../../v1/x", "button"),
        (ALICE, f"{ROOM}", "button"),
    ],
)
async def test_check_again_goes_through_the_gate(
    start_bot: BotFactory, user: str, value: str, said: str
) -> None:
    bot = await start_bot()
    _, hook = await bot.click("stoplive.check_again", value, user=user)
    answer = await bot.first_post(hook)
    assert said in answer["text"] and answer["replace_original"] is False
    assert bot.metastudio.seen == []


async def test_stop_again_off_the_allowlist_stops_nothing(start_bot: BotFactory) -> None:
    bot = await start_bot()
    _, hook = await bot.click("stoplive.stop_again", f"{ROOM} {JOB}", user=MALLORY)
    assert "not on the stoplive allowlist" in (await bot.first_post(hook))["text"]
    assert bot.metastudio.seen == []


async def test_outcome_buttons_over_socket_mode(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_mode="socket", slack_app_token="xapp-test")
    click = action_payload(
        "stoplive.check_again",
        f"{ROOM} {JOB}",
        ALICE,
        CHANNEL,
        bot.slack.response_url("socket-check"),
        block_id="stoplive.outcome_actions",
    )
    envelope = await bot.slack.send_envelope("interactive", click)
    await bot.slack.wait_for(lambda: envelope in bot.slack.acks)
    answer = await bot.first_post("socket-check")
    assert answer["text"].startswith("🔴 Still live: `Spring sale` is Live")
    assert buttons(answer) == {"stoplive.stop_again": f"{ROOM} {JOB}"}


# --- the audit copy ---------------------------------------------------------------------------


async def test_the_audit_copy_starts_with_the_channel_and_a_permalink(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot(stoplive_audit_channel=AUDIT)
    final = await stop(bot)
    [copy] = [c.args for c in bot.slack.calls("chat.postMessage") if c.args["channel"] == AUDIT]
    [asked] = bot.slack.calls("chat.getPermalink")
    assert (asked.args["channel"], asked.args["message_ts"]) == (CHANNEL, final["ts"])
    link = f"{WORKSPACE_URL}archives/{CHANNEL}/p{final['ts'].replace('.', '')}"
    assert copy["blocks"][0]["elements"][0]["text"] == (
        f"From <#{CHANNEL}> · <{link}|the channel message>"
    )
    assert copy["text"].startswith(f"From <#{CHANNEL}>: ✅ Stopped")


# --- /stoplive recent, and an ended job pointing to what is live now ------------------------


async def test_recent_shows_the_requester_the_last_day_of_stops(start_bot: BotFactory) -> None:
    bot = await start_bot()
    final = await stop(bot)
    response, hook = await bot.command("recent", user=BOB)
    assert response.status_code == 200 and response.text == ""  # the store is read after the ack
    answer = await bot.first_post(hook)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("🕘 *1 stop in the last 24 h*")
    link = f"{WORKSPACE_URL}archives/{CHANNEL}/p{final['ts'].replace('.', '')}"
    shown = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "*✅ Stopped* · by <@U0ALICE01>" in shown and f"<{link}|channel message>" in shown
    assert f"Room `{ROOM}` · Job `{JOB}`" in shown


async def test_the_workspace_address_is_asked_once_and_only_for_recent(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    await stop(bot)  # a command and a click: neither needs the address
    bolts_own = len(bot.slack.calls("auth.test"))
    assert bolts_own <= 1
    hooks = await asyncio.gather(*(bot.command("recent", user=u) for u in (ALICE, BOB, ALICE)))
    answers = [await bot.first_post(hook) for _, hook in hooks]
    assert all(f"{WORKSPACE_URL}archives/{CHANNEL}/p" in json.dumps(a) for a in answers)
    assert len(bot.slack.calls("auth.test")) == bolts_own + 1  # three at once shared one call
    _, hook = await bot.command("recent", user=BOB)
    await bot.first_post(hook)
    assert len(bot.slack.calls("auth.test")) == bolts_own + 1  # and it is kept


async def test_recent_is_refused_off_the_allowlist_in_the_ack(start_bot: BotFactory) -> None:
    bot = await start_bot()
    await stop(bot)
    response, hook = await bot.command("recent", user=MALLORY)
    assert "not on the stoplive allowlist" in response.json()["text"]
    assert await bot.stoplive.background.drain(5)
    assert bot.slack.posts(hook) == []


async def test_an_ended_job_offers_the_rooms_live_one(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.metastudio.jobs[JOB].state = "SUCCEED"
    bot.metastudio.jobs[JOB].end_time = datetime.now(UTC) - timedelta(minutes=2)
    bot.metastudio.add_job(ROOM, OTHER_JOB)
    _, hook = await bot.command(STOP)
    answer = await bot.first_post(hook)
    assert answer["text"].startswith("✅ Already ended: `Spring sale` is not live")
    offer = answer["blocks"][-1]
    assert offer["text"]["text"].startswith("`Spring sale` has another live stream, started")
    assert offer["accessory"]["text"]["text"] == "Stop that one…"
    _, pick_hook = await bot.click("stoplive.pick", offer["accessory"]["value"])
    confirmation = await bot.first_post(pick_hook)
    assert confirmation["text"].startswith("Stop `Spring sale`?")
    await bot.click("stoplive.confirm", buttons(confirmation)["stoplive.confirm"])
    await bot.slack.wait_for(lambda: bot.metastudio.calls("POST", f"{OTHER_JOB}/stop"))
    assert bot.metastudio.calls("POST", f"{JOB}/stop") == []
