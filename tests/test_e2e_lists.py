"""Lists that never understate, end to end: ``/stoplive`` and name searches over real HTTP
against the MetaStudio stand-in holding many rooms, answering short pages, slowly, or refusing
the tenant-wide job list (``ListSmartLiveJobs``) as an older region or a narrower policy does.
MetaStudio's calls are counted at the stand-in."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.sandbox.standins.metastudio import TENANT_JOBS, Fault
from tests.builders import JOB, ROOM
from tests.conftest import BotFactory
from tests.harness import ALICE, Harness
from tests.test_e2e_find import answer, refuse_tenant_list, stop_buttons, tenant_queries

GALA_ROOM = "7c3e9a41-5b2d-4f68-a1e0-93d4c6b82f15"
GALA_JOB = "e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b"
STARTING = pytest.mark.parametrize("tenant_list", ["given", "refused"])


def add_live_rooms(bot: Harness, count: int) -> None:
    for n in range(count):
        bot.metastudio.add_job(f"room-{n:04d}", f"job-{n:04d}", room_name=f"Sale {n:04d}")


async def slow_answer(bot: Harness, text: str) -> dict[str, Any]:
    """``/stoplive text`` when the answer may take the whole 10 s of a list to come."""
    _, hook = await bot.command(text)
    return dict(await bot.slack.wait_for(lambda: (bot.slack.posts(hook) or [None])[0], 20.0))


@STARTING
async def test_a_room_whose_only_job_is_starting_is_live(
    start_bot: BotFactory, tenant_list: str
) -> None:
    bot = await start_bot()
    bot.metastudio.jobs[JOB].state = "SUCCEED"
    bot.metastudio.add_job(GALA_ROOM, GALA_JOB, room_name="Spring Gala 2026", state="WAITING")
    if tenant_list == "refused":
        refuse_tenant_list(bot)
    for text in ("", "gala", "spring"):
        message = await answer(bot, text)
        assert message["text"].startswith("Stop `Spring Gala 2026`?"), (text, message["text"])
        assert GALA_JOB in json.dumps(message)
    rooms_filters = {
        s.query.get("live_state") for s in bot.metastudio.calls("GET", "/smart-live-rooms")
    }
    assert rooms_filters <= {"WAITING,PROCESSING"}


async def test_fifty_live_rooms_are_listed_in_one_call(start_bot: BotFactory) -> None:
    bot = await start_bot()
    add_live_rooms(bot, 49)
    message = await answer(bot, "")
    assert message["text"] == "*Choose the job to stop:* 50 live jobs in 50 rooms."
    assert len(bot.metastudio.seen) == 1 and len(tenant_queries(bot)) == 1


@pytest.mark.parametrize("status", [403, 404])
async def test_a_refused_tenant_list_falls_back_to_reading_room_by_room_said_once(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.stopflow")
    bot = await start_bot()
    add_live_rooms(bot, 49)
    refuse_tenant_list(bot, status)
    for _ in range(2):
        message = await answer(bot, "")
        assert message["text"] == "*Choose the job to stop:* 50 live jobs in 50 rooms."
    # asked once: the second list went straight to the rooms (1 page) and their 50 job lists
    assert len(tenant_queries(bot)) == 1
    assert len(bot.metastudio.seen) == 1 + 2 * (1 + 50)
    said = [r.getMessage() for r in caplog.records if "tenant-wide job list" in r.getMessage()]
    assert len(said) == 1 and f"HTTP {status}" in said[0] and "room by room" in said[0]


async def test_a_search_of_many_rooms_reads_the_tenant_list_instead_of_each_room(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    add_live_rooms(bot, 30)  # "Sale 0000".. "Sale 0029"; the fixture's room is "Spring sale"
    bot.metastudio.add_room("room-quiet", "Sale quiet")
    message = await answer(bot, "sale")
    assert message["text"] == "*Choose the job to stop:* 31 live jobs in 31 rooms matching `sale`."
    assert len(bot.metastudio.seen) == 2  # the matching live rooms, then the tenant list


async def test_a_list_past_the_page_cap_says_there_are_more(start_bot: BotFactory) -> None:
    bot = await start_bot()
    add_live_rooms(bot, 2299)
    message = await answer(bot, "")
    assert message["text"].startswith(
        "*Choose the job to stop:* 2,000+ live jobs in 2,000+ rooms.\n"
        "⚠️ Not every live job is listed: MetaStudio has more than the 2,000 live jobs read "
        "of the 2,300 MetaStudio counts."
    )
    assert len(tenant_queries(bot)) == 20 and len(bot.metastudio.seen) == 20
    assert "Not every live job is listed" in json.dumps(message["blocks"], ensure_ascii=False)


async def test_rooms_past_the_page_cap_say_there_are_more_when_read_room_by_room(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.metastudio.page_limit = 10  # MetaStudio answering fewer than asked: read on, to the cap
    add_live_rooms(bot, 229)
    refuse_tenant_list(bot)
    message = await answer(bot, "")
    assert message["text"].startswith(
        "*Choose the job to stop:* 200+ live jobs in 200+ rooms.\n"
        "⚠️ Not every live room is listed: MetaStudio has more than the 200 live rooms read "
        "of the 230 MetaStudio counts."
    )
    offsets = [s.query["offset"] for s in bot.metastudio.calls("GET", "/smart-live-rooms")]
    assert offsets == [str(n) for n in range(0, 200, 10)]


async def test_a_slow_list_shows_what_was_read_by_the_deadline(start_bot: BotFactory) -> None:
    bot = await start_bot()
    add_live_rooms(bot, 249)
    bot.metastudio.latencies = [0.0, 0.0, 30.0, 30.0, 30.0]  # the third page, nor its retries
    message = await slow_answer(bot, "")
    assert message["text"].startswith(
        "*Choose the job to stop:* 200+ live jobs in 200+ rooms.\n"
        "⚠️ Not every live job is listed: `MetaStudio took too long to answer`, after 200 live "
        "jobs of the 250 MetaStudio counts."
    )
    assert len(stop_buttons(message)) > 20


async def test_slow_rooms_are_named_and_the_others_listed_when_read_room_by_room(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    add_live_rooms(bot, 5)
    refuse_tenant_list(bot)
    bot.metastudio.inject("room-0003", Fault("slow", on="list", seconds=30, times=5))
    message = await slow_answer(bot, "")
    assert message["text"].startswith("*Choose the job to stop:* 5 live jobs in 5 rooms.\n")
    # the fixture's room and 4 of the 5: one could not be read in time
    assert (
        "Couldn't read the jobs of 1 room: `Sale 0003` (`MetaStudio took too long to answer`)"
        in message["text"]
    )
    assert len(stop_buttons(message)) == 5
    assert "Sale 0003" not in json.dumps(message["blocks"][2:], ensure_ascii=False)


async def test_nothing_read_of_a_list_cut_short_is_never_nothing_live(
    start_bot: BotFactory,
) -> None:
    """A restricted user's room may be among those not read: no "Nothing live"."""
    bot = await start_bot(
        stoplive_allowlist=json.dumps({ALICE: {"app_user_id": "ops", "rooms": [ROOM]}})
    )
    bot.metastudio.jobs.pop(JOB)
    add_live_rooms(bot, 2100)
    bot.metastudio.add_job(ROOM, JOB)  # the 2,101st: beyond the cap
    message = await answer(bot, "")
    assert message["text"].startswith("⚠️ Couldn't tell which jobs are live. Nothing was stopped.")
    assert "Not every live job is listed" in message["text"]
    assert "Nothing live" not in message["text"]


async def test_a_tenant_list_failing_otherwise_is_said_not_fallen_back_from(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.metastudio.inject(TENANT_JOBS, Fault("status", on="list", status=400, times=10))
    message = await answer(bot, "")
    assert message["text"].startswith("⚠️ Couldn't list the rooms: `HTTP 400")
    assert bot.metastudio.calls("GET", "/smart-live-rooms") == []
