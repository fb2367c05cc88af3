"""Every confirmed stop ends in one truthful outcome: whatever Slack's network, MetaStudio's
answers, a second click or a shutdown do, there is one audit line, one channel outcome and a
note for the requester."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.metrics import CLAIM_CONFLICTS, REGISTRY
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from tests.builders import JOB, ROOM, AuditLines
from tests.conftest import BotFactory
from tests.harness import ALICE, BOB, CHANNEL, buttons

STOP = f"{ROOM} {JOB}"


async def test_a_stopping_note_that_cannot_be_delivered_does_not_decide_the_stop(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    bot.slack.drops["hooks"] = 3  # the note and both of slack_sdk's retries are hung up on
    _, click_hook = await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert "✅ Stopped:" in final["text"] and len(bot.metastudio.calls("POST", "/stop")) == 1
    assert await bot.stoplive.background.drain(5)
    assert bot.slack.dropped == ["hooks"] * 3
    [told] = bot.slack.posts(click_hook)  # the note never arrived; the outcome did
    assert "✅ Stopped:" in told["text"]
    [line] = audit_lines("outcome")
    assert line["outcome"] == "stopped"


async def test_a_channel_that_cannot_be_reached_sends_the_outcome_by_response_url(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    value, command_hook = await bot.confirmation(STOP)
    bot.slack.drops["chat.update"] = 3  # the outcome's revision never gets through
    await bot.click("stoplive.confirm", value)
    posted = await bot.slack.wait_for(
        lambda: [p for p in bot.slack.posts(command_hook) if p.get("response_type") == "in_channel"]
    )
    assert "✅ Stopped:" in posted[0]["text"] and bot.slack.dropped == ["chat.update"] * 3
    assert await bot.stoplive.background.drain(5)
    [line] = audit_lines("outcome")
    assert line["outcome"] == "stopped"


async def test_a_dropped_connection_is_retried_and_the_channel_keeps_one_message(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    bot.slack.drops["chat.update"] = 1
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert "✅ Stopped:" in final["text"] and len(bot.slack.calls("chat.postMessage")) == 1
    assert final["ts"] == bot.slack.calls("chat.postMessage")[0].args.get("ts", final["ts"])


async def test_when_neither_channel_nor_response_url_work_the_requester_is_told(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    bot.slack.refused_channels[CHANNEL] = "channel_not_found"
    value, command_hook = await bot.confirmation(STOP)
    bot.slack.drops[f"hooks/{command_hook}"] = 3  # the in_channel fallback through it
    _, click_hook = await bot.click("stoplive.confirm", value)
    shared = await bot.slack.wait_for(
        lambda: [p for p in bot.slack.posts(click_hook) if "please share it" in p["text"]]
    )
    assert "✅ Stopped:" in shared[0]["text"]
    assert await bot.stoplive.background.drain(5)
    assert [line["outcome"] for line in audit_lines("outcome")] == ["stopped"]


async def test_an_unreadable_answer_is_called_unreadable(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.5)
    value, _ = await bot.confirmation(STOP)
    gateway_page = Fault("status", on="get", status=200, body="<html>gateway</html>", times=100)
    bot.metastudio.inject(JOB, gateway_page)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert "answer was unreadable" in final["text"]
    assert "checking" not in final["text"]
    assert await bot.stoplive.background.drain(5)
    [line] = audit_lines("outcome")
    assert line["outcome"] == "unreadable" and "unreadable" in str(line["detail"])


@pytest.mark.parametrize("second", [ALICE, BOB])
async def test_two_confirmations_of_one_job_send_one_stop(
    start_bot: BotFactory, audit_lines: AuditLines, second: str
) -> None:
    bot = await start_bot()
    first_value, _ = await bot.confirmation(STOP, user=ALICE)
    second_value, _ = await bot.confirmation(STOP, user=second)
    conflicts = REGISTRY.get_sample_value("stoplive_claim_conflicts_total", {"kind": "job"}) or 0
    bot.metastudio.inject(JOB, Fault("slow", seconds=0.3))  # both clicks land while one runs
    (_, first_hook), (_, second_hook) = await asyncio.gather(
        bot.click("stoplive.confirm", first_value, user=ALICE),
        bot.click("stoplive.confirm", second_value, user=second),
    )
    await bot.slack.wait_for(bot.final_channel_message)
    assert await bot.stoplive.background.drain(5)
    assert len(bot.metastudio.calls("POST", "/stop")) == 1
    assert len(bot.slack.calls("chat.postMessage")) == 1
    told = [
        p["text"]
        for p in bot.slack.posts(first_hook) + bot.slack.posts(second_hook)
        if "Already being stopped" in p["text"]
    ]
    assert len(told) == 1
    assert any(f"Already being stopped by <@{user}>" in told[0] for user in (ALICE, second))
    assert [line["outcome"] for line in audit_lines("outcome")] == ["stopped"]
    assert any(line["outcome"] == "refused_in_flight" for line in audit_lines())
    assert CLAIM_CONFLICTS.labels("job")._value.get() == conflicts + 1


async def test_a_stop_cut_short_by_shutdown_says_so_in_the_channel(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_verify_seconds=60)
    bot.metastudio.inject(JOB, Fault("stays_live"))
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(lambda: bot.slack.calls("chat.postMessage"))  # "checking the job…"
    assert not await bot.stoplive.background.drain(0.3)  # still watching
    await bot.stoplive.background.cancel(5)  # what the shutdown does once the drain is over
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert "MetaStudio accepted the stop" in final["text"]
    assert "still Live when stoplive shut down" in final["text"]
    assert f"/stoplive {ROOM} {JOB}" in final["text"]
    [line] = audit_lines("outcome")
    assert line["outcome"] == "shut_down"


async def test_the_confirmation_button_is_spent_once_used(start_bot: BotFactory) -> None:
    bot = await start_bot()
    _, hook = await bot.command(STOP)
    value = buttons(await bot.first_post(hook))["stoplive.confirm"]
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(bot.final_channel_message)
    _, again = await bot.click("stoplive.confirm", value)
    assert "Already used" in (await bot.first_post(again))["text"]
    assert len(bot.metastudio.calls("POST", "/stop")) == 1


async def test_an_iam_failure_is_told_as_one_and_nothing_is_sent(
    start_bot: BotFactory, metastudio: MetaStudioStandIn, audit_lines: AuditLines
) -> None:
    bot = await start_bot(
        huaweicloud_iam_endpoint=metastudio.url,
        huaweicloud_sdk_ak=None,
        huaweicloud_sdk_sk=None,
        huaweicloud_iam_username="bot",
        huaweicloud_iam_password="wrong-password",
        huaweicloud_iam_domain="acme",
    )
    bot.metastudio.iam_users[("acme", "bot", "right-password")] = 3600
    value, _ = await bot.confirmation(STOP)  # the lookup failed; the stop is still offered
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(lambda: bot.slack.calls("chat.postMessage"))
    text = final[-1].args["text"]
    assert text.startswith("❌ Not stopped (no IAM token)") and "nothing was sent" in text
    assert "MetaStudio has no job" not in text and "did not answer the stop" not in text
    assert bot.metastudio.calls("POST", "/stop") == [] and bot.metastudio.iam_calls >= 1
    assert await bot.stoplive.background.drain(5)
    [line] = audit_lines("outcome")
    assert line["outcome"] == "iam_failed"


async def test_a_long_watch_says_still_checking_then_revises_to_the_outcome(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.3, stoplive_watch_seconds=20)
    bot.metastudio.inject(JOB, Fault("stays_live"))
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    checking = await bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("chat.update") if "Still checking" in c.args["text"]]
    )
    assert "I keep watching until it ends" in checking[0].args["text"]
    job = bot.metastudio.jobs[JOB]
    job.state, job.end_time = "SUCCEED", datetime.now(UTC)  # MetaStudio gets there late
    final = await bot.slack.wait_for(
        lambda: (m := bot.final_channel_message()) and m["text"].startswith("✅ Stopped") and m
    )
    assert final["ts"] == checking[0].args["ts"]
    assert await bot.stoplive.background.drain(5)
    assert [line["outcome"] for line in audit_lines("outcome")] == ["stopped"]
    # one message, revised; "still live" when first known, then the changed verdict, each a
    # reply broadcast in its thread
    posted, early, reply = (c.args for c in bot.slack.calls("chat.postMessage"))
    assert "thread_ts" not in posted
    assert early["thread_ts"] == reply["thread_ts"] == final["ts"]
    assert early["reply_broadcast"] is reply["reply_broadcast"] is True
    assert early["text"].startswith("🔴 Still live after ")
    assert reply["text"].startswith("✅ Stopped: `Spring sale` · by <@U0ALICE01> (was: Still live)")


async def test_still_live_after_the_first_window_is_told_loudly_at_once(
    start_bot: BotFactory,
) -> None:
    """A responder hears "still live" when the first window ends, not when the watch ends:
    a reply broadcast to the channel (a revision notifies nobody), while the watch goes on."""
    bot = await start_bot(stoplive_verify_seconds=0.5, stoplive_watch_seconds=60)
    bot.metastudio.inject(JOB, Fault("stays_live"))
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    [early] = await bot.slack.wait_for(
        lambda: [c.args for c in bot.slack.calls("chat.postMessage") if "thread_ts" in c.args],
        within=5,
    )
    assert early["reply_broadcast"] is True
    assert early["text"].startswith("🔴 Still live after ")
    assert "`Spring sale` · stop asked by <@U0ALICE01>" in early["text"]
    assert "MetaStudio accepted the stop; the job is Live" in early["text"]
    assert "I keep watching for up to " in early["text"]
    assert bot.final_channel_message() is None or "Stopped" not in str(bot.final_channel_message())
    job = bot.metastudio.jobs[JOB]
    job.state, job.end_time = "SUCCEED", datetime.now(UTC)
    await bot.slack.wait_for(
        lambda: (m := bot.final_channel_message()) and m["text"].startswith("✅ Stopped") and m
    )
    assert await bot.stoplive.background.drain(5)


async def test_a_message_slack_refuses_as_built_arrives_as_plain_text(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    bot.slack.refuse_blocks = True  # Slack says invalid_blocks to anything with blocks
    _, click_hook = await bot.click("stoplive.confirm", value)
    assert await bot.stoplive.background.drain(10)
    final = bot.final_channel_message()
    assert final is not None and "blocks" not in final
    assert final["text"].startswith("✅ Stopped:")
    told = bot.slack.posts(click_hook)
    assert told and all("blocks" not in post for post in told)
    assert told[-1]["text"].startswith("✅ Stopped:")
    [line] = audit_lines("outcome")
    assert line["outcome"] == "stopped"
