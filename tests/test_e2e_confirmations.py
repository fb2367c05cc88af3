"""Confirmation buttons end to end: forged or edited values, clicks from elsewhere, and the one
gate that commands and clicks share."""

from __future__ import annotations

import json

import pytest

from tests.builders import JOB, ROOM, AuditLines
from tests.conftest import BotFactory
from tests.harness import ALICE, CHANNEL, buttons

STOP = f"{ROOM} {JOB}"
OTHER_ROOM = "9d1f0c2e-0000-4000-8000-00000000abcd"


def edited(value: str, field: int, new: object) -> str:
    """The value with one payload field changed and the MAC left as it was."""
    version, mac, payload = value.split(".", 2)
    fields = json.loads(payload)
    fields[field] = new
    return f"{version}.{mac}.{json.dumps(fields, separators=(',', ':'))}"


def old_style(expires_at: object) -> str:
    """The plain-JSON value of earlier versions, as a member's client could send it."""
    return json.dumps(
        {
            "id": "x",
            "room_id": ROOM,
            "job_id": JOB,
            "requester": ALICE,
            "channel_id": CHANNEL,
            "expires_at": expires_at,
            "response_url": "http://x",
        }
    )


@pytest.mark.parametrize(
    "forge",
    [
        lambda v: edited(v, 1, OTHER_ROOM),  # another room
        lambda v: edited(v, 2, "another-job"),  # another job
        lambda v: edited(v, 6, 9.9e12),  # an expiry far away
        lambda v: edited(v, 6, "9e99"),  # a string where a time goes
        lambda v: old_style(9.9e12),
        lambda v: old_style("9e99"),
        lambda v: old_style("NaN"),
        lambda v: "",
        lambda v: "t1.é" * 10,
        lambda v: v + "x",
    ],
)
async def test_a_forged_or_edited_button_is_refused_answered_and_audited(
    start_bot: BotFactory, audit_lines: AuditLines, forge: object
) -> None:
    bot = await start_bot()
    bot.metastudio.add_job(OTHER_ROOM, "another-job")
    value, _ = await bot.confirmation(STOP)
    forged = forge(value)  # type: ignore[operator]
    response, hook = await bot.click("stoplive.confirm", forged)
    assert response.status_code == 200
    answer = await bot.first_post(hook)
    assert "not valid any more" in answer["text"] and answer["replace_original"] is False
    assert answer["response_type"] == "ephemeral"
    assert await bot.stoplive.background.drain(5)
    assert bot.metastudio.calls("POST", "/stop") == [] and bot.slack.calls("chat.postMessage") == []
    [line] = [a for a in audit_lines() if a["event"] == "confirm"]
    assert line["outcome"] == "refused_bad_ticket" and line["slack_user"] == ALICE
    # ... and the genuine button still works
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("✅ Stopped") and bot.metastudio.jobs["another-job"].stops == 0


async def test_a_click_from_another_channel_is_refused(start_bot: BotFactory) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    _, hook = await bot.click("stoplive.confirm", value, channel="C0ELSEWHERE")
    answer = await bot.first_post(hook)
    assert f"made in <#{CHANNEL}>" in answer["text"] and "Nothing was stopped" in answer["text"]
    assert await bot.stoplive.background.drain(5)
    assert bot.metastudio.calls("POST", "/stop") == []


async def test_a_pick_goes_through_the_same_gate(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.metastudio.add_job(ROOM, "second-job", state="WAITING")
    _, hook = await bot.command(ROOM)
    picker = await bot.first_post(hook)
    pick = next(b["accessory"]["value"] for b in picker["blocks"] if "accessory" in b)
    _, pick_hook = await bot.click("stoplive.pick", edited(pick, 2, "second-job-x"))
    assert "not valid any more" in (await bot.first_post(pick_hook))["text"]
    _, other = await bot.click("stoplive.pick", pick, channel="C0ELSEWHERE")
    assert "works there only" in (await bot.first_post(other))["text"]


async def test_a_button_value_works_only_with_its_own_button(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    """A picker's "Stop…" value sent as the confirmation's Stop (its action_id) would skip the
    confirmation step; a Cancel value sent as Stop likewise. Each is refused, nothing stops."""
    bot = await start_bot()
    bot.metastudio.add_job(ROOM, "second-job", state="WAITING")
    _, hook = await bot.command(ROOM)
    picker = await bot.first_post(hook)
    pick = next(b["accessory"]["value"] for b in picker["blocks"] if "accessory" in b)
    _, as_stop = await bot.click("stoplive.confirm", pick)
    assert "not valid any more" in (await bot.first_post(as_stop))["text"]
    _, confirm_hook = await bot.command(f"{ROOM} {JOB}")
    offered = buttons(await bot.first_post(confirm_hook))
    _, cancel_as_stop = await bot.click("stoplive.confirm", offered["stoplive.cancel"])
    assert "not valid any more" in (await bot.first_post(cancel_as_stop))["text"]
    _, stop_as_pick = await bot.click("stoplive.pick", offered["stoplive.confirm"])
    assert "not valid any more" in (await bot.first_post(stop_as_pick))["text"]
    assert await bot.stoplive.background.drain(5)
    assert bot.metastudio.calls("POST", "/stop") == []
    refused = [line for line in audit_lines() if line["outcome"] == "refused_bad_ticket"]
    assert [line["detail"] for line in refused] == [
        "sealed for another button ('pick'), not 'confirm'",
        "sealed for another button ('cancel'), not 'confirm'",
        "sealed for another button ('confirm'), not 'pick'",
    ]
    # ... and each still works with its own button
    _, pick_hook = await bot.click("stoplive.pick", pick)
    assert "stoplive.confirm" in buttons(await bot.first_post(pick_hook))
