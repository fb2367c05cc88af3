"""Stopping what you can name, end to end: ``/stoplive`` alone lists every live job,
``/stoplive <words>`` finds rooms by name, over real HTTP against the stand-ins (the MetaStudio
one answers ``ListSmartLiveRooms`` with ``room_name``, ``live_state``, ``offset`` and ``limit``
and checks every signature with Huawei's own signer)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from bot.sandbox.standins.metastudio import INVALID, NO_SUCH_API, ROOMS, TENANT_JOBS, Fault
from tests.builders import JOB, ROOM, AuditLines
from tests.conftest import BotFactory
from tests.harness import ALICE, BOB, MALLORY, Harness, buttons

GALA_ROOM = "7c3e9a41-5b2d-4f68-a1e0-93d4c6b82f15"
GALA_JOB = "e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b"
LAUNCH_ROOM = "3f8b2d6e-9a1c-4e57-b0d4-c6a8e2f41b93"
LAUNCH_JOB = "c5b6a7f8-e9d0-4123-8e4f-5a6b7c8d9e0f"
QUIET_ROOM = "9e4a1f7c-2b8d-4c36-a5e9-71d0b3f6c284"


async def project(start_bot: BotFactory, **settings: Any) -> Harness:
    """A bot over a project of four rooms: Spring sale (live, the fixture's), Spring Gala
    2026 (live), Product launch (live), Spring quiet hour (nothing live)."""
    bot = await start_bot(**settings)
    bot.metastudio.add_job(GALA_ROOM, GALA_JOB, room_name="Spring Gala 2026")
    bot.metastudio.add_job(LAUNCH_ROOM, LAUNCH_JOB, room_name="Product launch")
    bot.metastudio.add_job(
        QUIET_ROOM, str(uuid.uuid4()), room_name="Spring quiet hour", state="SUCCEED"
    )
    return bot


async def answer(bot: Harness, text: str, user: str = ALICE) -> dict[str, Any]:
    """``/stoplive text``: acked at once with nothing shown, then the answer after the ack."""
    response, hook = await bot.command(text, user)
    assert response.status_code == 200 and response.text == ""
    message = await bot.first_post(hook)
    assert message["response_type"] == "ephemeral"
    return message


def stop_buttons(message: dict[str, Any]) -> list[str]:
    """The values of the Stop… buttons of a list, in order."""
    return [
        b["accessory"]["value"]
        for b in message["blocks"]
        if b.get("accessory", {}).get("action_id") == "stoplive.pick"
    ]


def rooms_queries(bot: Harness) -> list[dict[str, str]]:
    return [s.query for s in bot.metastudio.calls("GET", "/smart-live-rooms")]


def tenant_queries(bot: Harness) -> list[dict[str, str]]:
    """The queries of the tenant-wide job list (``ListSmartLiveJobs``)."""
    tenant = f"/v1/{bot.metastudio.project_id}/smart-live-jobs"
    return [s.query for s in bot.metastudio.seen if s.path == tenant]


def refuse_tenant_list(bot: Harness, status: int = 403) -> None:
    """MetaStudio refuses ``ListSmartLiveJobs`` from now on, as an older region (404) or a
    narrower policy (403) does."""
    refused = Fault("status", on="list", status=status, body=NO_SUCH_API, times=10**6)
    bot.metastudio.inject(TENANT_JOBS, refused)


async def stop_from(bot: Harness, confirmation: dict[str, Any]) -> dict[str, Any]:
    await bot.click("stoplive.confirm", buttons(confirmation)["stoplive.confirm"])
    return await bot.slack.wait_for(bot.final_channel_message)


async def test_one_word_finds_the_one_live_job_and_stopping_takes_one_click(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await project(start_bot)
    message = await answer(bot, "gala")
    assert set(buttons(message)) == {"stoplive.confirm", "stoplive.cancel"}
    assert message["text"].startswith("Stop `Spring Gala 2026`?")
    [query] = rooms_queries(bot)
    assert query["room_name"] == "gala" and query["live_state"] == "WAITING,PROCESSING"
    final = await stop_from(bot, message)
    assert final["text"].startswith("✅ Stopped: `Spring Gala 2026`")
    assert bot.metastudio.jobs[GALA_JOB].state == "SUCCEED"
    assert bot.metastudio.jobs[JOB].state == bot.metastudio.jobs[LAUNCH_JOB].state == "PROCESSING"
    [request] = [a for a in audit_lines() if a["event"] == "request"]
    assert request["outcome"] == "confirmation_shown" and request["detail"] == "search: gala"
    assert (request["room"], request["job"]) == (GALA_ROOM, GALA_JOB)


async def test_several_words_are_one_query_sent_encoded(start_bot: BotFactory) -> None:
    bot = await project(start_bot)
    message = await answer(bot, "  SPRING   gala ")
    assert message["text"].startswith("Stop `Spring Gala 2026`?")
    assert rooms_queries(bot)[0]["room_name"] == "SPRING gala"
    # characters that mean something in a URL arrive as typed (and the signature holds)
    bot.metastudio.add_job(str(uuid.uuid4()), str(uuid.uuid4()), room_name="Q&A #3 + 100% 春季")
    message = await answer(bot, "q&a #3 + 100% 春季")
    assert message["text"].startswith("Stop `Q&amp;A #3 + 100% 春季`?")
    assert rooms_queries(bot)[-1]["room_name"] == "q&a #3 + 100% 春季"
    assert bot.metastudio.auth_failures == 0


async def test_two_rooms_matching_are_listed_to_choose_from(start_bot: BotFactory) -> None:
    bot = await project(start_bot)
    message = await answer(bot, "spring")
    assert message["text"] == "*Choose the job to stop:* 2 live jobs in 2 rooms matching `spring`."
    picks = stop_buttons(message)
    assert len(picks) == 2 and "stoplive.confirm" not in buttons(message)
    shown = json.dumps(message["blocks"], ensure_ascii=False)
    assert shown.index("Spring Gala 2026") < shown.index("Spring sale")  # grouped, by name
    assert "Product launch" not in shown and "Spring quiet hour" not in shown
    assert [b["accessory"]["text"]["text"] for b in message["blocks"] if "accessory" in b] == [
        "Stop…",
        "Stop…",
    ]
    # the Stop… button leads into the usual confirmation, through the same gate
    _, not_mine = await bot.click("stoplive.pick", picks[1], user=BOB)
    assert "Not yours" in (await bot.first_post(not_mine))["text"]
    _, hook = await bot.click("stoplive.pick", picks[1])
    confirmation = await bot.first_post(hook)
    assert confirmation["replace_original"] is True and JOB in json.dumps(confirmation)
    await stop_from(bot, confirmation)
    assert bot.metastudio.jobs[JOB].state == "SUCCEED"
    assert bot.metastudio.jobs[GALA_JOB].state == "PROCESSING"


async def test_no_room_matching_says_so(start_bot: BotFactory) -> None:
    bot = await project(start_bot)
    message = await answer(bot, "<!channel> winter")
    assert message["text"] == (
        "🔍 No room matches `&lt;!channel&gt; winter`. Check the name, or use the room ID. "
        "Nothing was stopped."
    )
    assert buttons(message) == {} and bot.metastudio.calls("GET", "/smart-live-jobs") == []


async def test_rooms_matching_with_nothing_live_are_named(start_bot: BotFactory) -> None:
    bot = await project(start_bot)
    bot.metastudio.add_room(str(uuid.uuid4()), "Quiet corner")
    message = await answer(bot, "quiet")
    assert message["text"] == (
        "✅ Nothing live: 2 rooms match `quiet`, but none has a live job, so there is nothing to "
        "stop. Rooms: `Spring quiet hour`, `Quiet corner`."
    )
    assert buttons(message) == {}
    live_query, all_query = rooms_queries(bot)
    assert live_query["live_state"] == "WAITING,PROCESSING" and "live_state" not in all_query


@pytest.mark.parametrize("text", ["", "list", " LIST "])
async def test_nothing_typed_lists_every_live_job_by_room(start_bot: BotFactory, text: str) -> None:
    bot = await project(start_bot)
    bot.metastudio.add_job(LAUNCH_ROOM, "f2e3d4c5-b6a7-4890-9b1c-2d3e4f5a6b7c", state="WAITING")
    message = await answer(bot, text)
    assert message["text"] == "*Choose the job to stop:* 4 live jobs in 3 rooms."
    rooms = [
        b["elements"][0]["text"].split(" · ")[0]
        for b in message["blocks"][1:-1]
        if b["type"] == "context"
    ]
    assert rooms == ["*`Product launch`*", "*`Spring Gala 2026`*", "*`Spring sale`*"]
    assert len(stop_buttons(message)) == 4 and "Starting" in json.dumps(message["blocks"])
    # one call: the tenant-wide job list, every live state
    [call] = bot.metastudio.seen
    assert call.path == f"/v1/{bot.metastudio.project_id}/smart-live-jobs"
    assert call.query == {"state": "WAITING,PROCESSING", "offset": "0", "limit": "100"}


async def test_nothing_live_anywhere(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.metastudio.jobs[JOB].state = "SUCCEED"
    message = await answer(bot, "")
    assert message["text"].startswith("✅ Nothing live:") and buttons(message) == {}


async def test_help_says_what_an_id_is_and_reads_nothing(start_bot: BotFactory) -> None:
    bot = await start_bot()
    response, hook = await bot.command("help")
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "`/stoplive` lists every live job" in body["text"]
    assert "`/stoplive &lt;words of a room name&gt;`" in body["text"]
    assert "An ID is a UUID" in body["text"] and "32 hex digits" in body["text"]
    assert bot.metastudio.seen == [] and bot.slack.posts(hook) == []


async def test_every_page_of_rooms_is_read(start_bot: BotFactory) -> None:
    bot = await start_bot()
    for n in range(130):
        bot.metastudio.add_job(f"room-{n:03d}", f"job-{n:03d}", room_name=f"Sale {n:03d}")
    message = await answer(bot, "")
    assert message["text"] == "*Choose the job to stop:* 131 live jobs in 131 rooms."
    shown = len(stop_buttons(message))
    assert 20 <= shown < 131 and len(message["blocks"]) <= 50
    assert f"…and {131 - shown} more: narrow it with" in json.dumps(message, ensure_ascii=False)
    offsets = [q["offset"] for q in tenant_queries(bot)]
    assert offsets == ["0", "100"] and rooms_queries(bot) == []
    # a search pages too: 130 rooms match, none live
    for job in bot.metastudio.jobs.values():
        job.state = "FAILED"
    message = await answer(bot, "sale")
    assert message["text"].startswith("✅ Nothing live: 131 rooms match `sale`")
    assert [q["offset"] for q in rooms_queries(bot)] == ["0", "0", "100"]


async def test_a_restricted_user_sees_and_matches_only_their_rooms(
    start_bot: BotFactory,
) -> None:
    bot = await project(
        start_bot,
        stoplive_allowlist=json.dumps(
            {ALICE: "ops-alice", BOB: {"app_user_id": "ops-bob", "rooms": [ROOM, QUIET_ROOM]}}
        ),
    )
    message = await answer(bot, "", user=BOB)  # one live job of theirs: its confirmation
    assert message["text"].startswith("Stop `Spring sale`?") and JOB in json.dumps(message)
    assert bot.metastudio.calls("GET", f"{GALA_ROOM}/smart-live-jobs") == []
    assert bot.metastudio.calls("GET", f"{LAUNCH_ROOM}/smart-live-jobs") == []
    gala = await answer(bot, "gala", user=BOB)
    assert gala["text"].startswith("🔍 No room you may stop matches `gala`.")
    assert buttons(gala) == {}
    spring = await answer(bot, "spring", user=BOB)
    assert spring["text"].startswith("Stop `Spring sale`?")
    quiet = await answer(bot, "quiet", user=BOB)
    assert quiet["text"].startswith("✅ Nothing live: 1 room matches `quiet`")
    assert all(call.headers["X-App-UserId"] == "ops-bob" for call in bot.metastudio.seen)


async def test_a_room_whose_jobs_cannot_be_read_is_named_and_offers_no_button(
    start_bot: BotFactory,
) -> None:
    bot = await project(start_bot)
    refuse_tenant_list(bot)  # read room by room
    bot.metastudio.inject(GALA_ROOM, Fault("status", on="list", status=400, body=INVALID))
    message = await answer(bot, "spring")
    # the one readable live job is listed, not confirmed straight away: the other room may hide one
    assert message["text"].startswith("*Choose the job to stop:* 1 live job in 1 room")
    assert "Couldn't read the jobs of 1 room: `Spring Gala 2026`" in message["text"]
    assert "MSS.00000003" in message["text"]
    assert len(stop_buttons(message)) == 1
    assert "Spring sale" in json.dumps(message["blocks"])
    bot.metastudio.inject(GALA_ROOM, Fault("status", on="list", status=400, body=INVALID))
    only = await answer(bot, "gala")
    assert only["text"].startswith("⚠️ Couldn't tell which jobs are live matching `gala`.")
    assert buttons(only) == {}


async def test_a_rooms_list_that_fails_says_what_metastudio_said(start_bot: BotFactory) -> None:
    bot = await project(start_bot)
    bot.metastudio.inject(ROOMS, Fault("status", on="list", status=400, body=INVALID))
    message = await answer(bot, "gala")
    assert message["text"].startswith(
        "⚠️ Couldn't list the rooms matching `gala`: `HTTP 400 MSS.00000003: Invalid parameter`"
    )
    assert buttons(message) == {}


async def test_a_job_metastudio_says_it_does_not_know_gets_no_button(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    bot.metastudio.unknown = (400, INVALID)  # as MetaStudio has been seen to answer
    message = await answer(bot, f"{ROOM} 00000000-0000-4000-8000-000000000000")
    offered = buttons(message)  # no Stop for it; the room's live job is offered instead
    assert set(offered) == {"stoplive.pick"} and f'"{JOB}"' in offered["stoplive.pick"]
    assert message["text"].startswith("🔍 MetaStudio would not read job")
    assert "HTTP 400 `MSS.00000003`: `Invalid parameter`" in message["text"]
    [request] = [a for a in audit_lines() if a["event"] == "request"]
    assert request["outcome"] == "job_read_refused"


@pytest.mark.parametrize("text", ["", "gala"])
async def test_someone_off_the_allowlist_lists_and_finds_nothing(
    start_bot: BotFactory, text: str
) -> None:
    bot = await project(start_bot)
    response, hook = await bot.command(text, user=MALLORY)
    assert "not on the stoplive allowlist" in response.json()["text"]
    assert bot.metastudio.seen == [] and bot.slack.posts(hook) == []
