"""The stream watch end to end: the bot over real HTTP between the Slack and MetaStudio
stand-ins, its state in a real SQLite file or a real Redis. Streams end on their own at the
MetaStudio stand-in (``Job.end``); each test polls with ``poll_now`` where the loop's timing is
not what it tests (the loop runs too, but with an hour between polls it polls once at start)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bot.sandbox.slack_requests import buttons
from bot.sandbox.standins.metastudio import INVALID, TENANT_JOBS, Fault, MetaStudioStandIn
from bot.stopflow.store import MemoryStore, RedisStore, StoreUnavailable
from bot.stopflow.watching import LEASE_KEY, STATE_KEY, StreamWatch
from bot.stopflow.words.actions import CONFIRM_ACTION, STOP_AGAIN_ACTION
from tests.builders import JOB, ROOM
from tests.conftest import BotFactory
from tests.harness import ALICE, BOB, CHANNEL, MALLORY, Harness
from tests.test_e2e_home import home_opened, home_text, post_event
from tests.test_endpoints import samples

NOTIFY = "C0ONCALL01"
OTHER_ROOM = "7c3e9a41-5b2d-4f68-a1e0-93d4c6b82f15"
JOBS = [
    "e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b",
    "f2e3d4c5-b6a7-4890-9b1c-2d3e4f5a6b7c",
    "a3f4e5d6-c7b8-4901-8c2d-3e4f5a6b7c8d",
]
RTMP_FAILED = {"error_code": "MSS.00000004", "error_msg": "RTMP push failed"}
WATCHING = {"stoplive_notify_channel": NOTIFY, "stoplive_notify_seconds": 3600}


def watch(bot: Harness) -> StreamWatch:
    found = bot.stoplive.workflow.stream_watch
    assert found is not None
    return found


def notes(bot: Harness) -> list[str]:
    """The text of every note posted in the notify channel, in order."""
    return [
        str(call.args["text"])
        for call in bot.slack.calls("chat.postMessage")
        if call.args.get("channel") == NOTIFY
    ]


def note_messages(bot: Harness) -> list[dict[str, Any]]:
    return [c.args for c in bot.slack.calls("chat.postMessage") if c.args.get("channel") == NOTIFY]


def night_market(metastudio: MetaStudioStandIn) -> None:
    for job_id in JOBS:
        metastudio.add_job(OTHER_ROOM, job_id, room_name="Night market")


async def test_an_error_or_a_block_is_loud_with_its_reason_an_ordinary_end_is_not_told(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    night_market(metastudio)
    bot = await start_bot(**WATCHING)
    assert await watch(bot).poll_now() == "ok"
    assert notes(bot) == []  # the first poll learns what is live, silently
    metastudio.jobs[JOBS[0]].end("FAILED", error_info=RTMP_FAILED)
    metastudio.jobs[JOBS[1]].end("BLOCKED", block_reason="Content violates live policy")
    metastudio.jobs[JOBS[2]].end()  # SUCCEED: ordinary, and STOPLIVE_NOTIFY_ENDS=errors
    assert await watch(bot).poll_now() == "ok"
    await watch(bot).poll_now()
    told = notes(bot)
    assert len(told) == 2, told
    failed = next(t for t in told if JOBS[0] in t)
    blocked = next(t for t in told if JOBS[1] in t)
    assert failed.startswith("🔴 *Ended with an error:* `Night market` · MetaStudio: ")
    assert "MSS.00000004: RTMP push failed" in failed
    assert blocked.startswith("🔴 *Blocked by Huawei:* `Night market`")
    assert "Content violates live policy" in blocked
    assert not any(JOBS[2] in t for t in told)


async def test_every_end_is_one_quiet_line_when_all_ends_are_told(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING, stoplive_notify_ends="all")
    await watch(bot).poll_now()
    metastudio.jobs[JOB].end()
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1 and notes(bot)[0].startswith("⚪ Ended: `Spring sale`")
    message = note_messages(bot)[0]
    assert not buttons(message)  # nothing to stop


async def test_a_job_in_a_state_stoplive_does_not_know_is_kept_watching_not_called_ended(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING, stoplive_notify_ends="all")
    await watch(bot).poll_now()
    metastudio.jobs[JOB].state = "ARCHIVING"  # not listed as live, not known to be over
    await watch(bot).poll_now()
    assert notes(bot) == []
    metastudio.jobs[JOB].end("FAILED", error_info=RTMP_FAILED)
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1 and "Ended with an error" in notes(bot)[0]


async def test_a_long_live_is_told_once_with_a_stop_button_and_not_after_a_restart(
    start_bot: BotFactory, metastudio: MetaStudioStandIn, tmp_path: Path
) -> None:
    state = str(tmp_path / "state.db")
    # the stand-in's job started 62 minutes ago
    bot = await start_bot(**WATCHING, stoplive_long_live_hours=0.5, stoplive_state_file=state)
    await watch(bot).poll_now()
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1
    # how long it has really been live, not the threshold; the threshold in the small print
    assert notes(bot)[0].startswith("⏰ *Live for 1 h 02 min:* `Spring sale`")
    assert "over the 0.5 h set in STOPLIVE_LONG_LIVE_HOURS" in notes(bot)[0]
    assert buttons(note_messages(bot)[0]) == {STOP_AGAIN_ACTION: f"{ROOM} {JOB}"}
    await bot.transport.close()
    again = await start_bot(**WATCHING, stoplive_long_live_hours=0.5, stoplive_state_file=state)
    assert await watch(again).poll_now() == "ok"
    assert len(notes(again)) == 1  # the Slack stand-in is shared: still the first note only


async def test_a_note_s_stop_button_is_no_permission(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    allowlist = {ALICE: "ops-alice", BOB: {"app_user_id": "ops-bob", "rooms": [OTHER_ROOM]}}
    bot = await start_bot(
        **WATCHING, stoplive_long_live_hours=1, stoplive_allowlist=json.dumps(allowlist)
    )
    await watch(bot).poll_now()
    value = buttons(note_messages(bot)[0])[STOP_AGAIN_ACTION]
    _, hook = await bot.click(STOP_AGAIN_ACTION, value, user=MALLORY, channel=NOTIFY)
    assert "not on the stoplive allowlist" in (await bot.first_post(hook))["text"]
    _, hook = await bot.click(STOP_AGAIN_ACTION, value, user=BOB, channel=NOTIFY)
    refused = (await bot.first_post(hook))["text"]
    assert "room" in refused and ROOM in refused and "stoplive.confirm" not in str(refused)
    _, hook = await bot.click(STOP_AGAIN_ACTION, value, user=ALICE, channel=NOTIFY)
    confirmation = await bot.first_post(hook)
    assert CONFIRM_ACTION in buttons(confirmation)
    assert confirmation["response_type"] == "ephemeral"
    assert metastudio.jobs[JOB].stops == 0  # a confirmation, nothing stopped


async def test_a_note_s_button_follows_the_allowed_channels(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING, stoplive_long_live_hours=1, stoplive_allowed_channels=CHANNEL)
    await watch(bot).poll_now()
    value = buttons(note_messages(bot)[0])[STOP_AGAIN_ACTION]
    _, hook = await bot.click(STOP_AGAIN_ACTION, value, user=ALICE, channel=NOTIFY)
    refused = await bot.first_post(hook)
    assert CONFIRM_ACTION not in buttons(refused) and CHANNEL in refused["text"]


async def test_starts_are_told_only_when_asked_and_never_on_the_first_poll(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING, stoplive_notify_starts=True)
    await watch(bot).poll_now()
    assert notes(bot) == []  # JOB was live before: learnt, not new
    metastudio.add_job(OTHER_ROOM, JOBS[0], room_name="Night market")
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1 and notes(bot)[0].startswith("🟢 Went live: `Night market`")
    quiet = await start_bot(**WATCHING)
    await watch(quiet).poll_now()
    metastudio.add_job(OTHER_ROOM, JOBS[1], room_name="Night market")
    await watch(quiet).poll_now()
    assert not any(JOBS[1] in t for t in notes(quiet))


async def test_a_job_stoplive_stopped_is_not_told_again(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING, stoplive_notify_ends="all")
    await watch(bot).poll_now()
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click(CONFIRM_ACTION, value)
    await bot.slack.wait_for(lambda: metastudio.jobs[JOB].state == "SUCCEED")
    await bot.stoplive.background.drain(10)
    await watch(bot).poll_now()
    assert notes(bot) == []


async def test_a_restart_repeats_nothing_and_tells_what_ended_while_it_was_down(
    start_bot: BotFactory, metastudio: MetaStudioStandIn, tmp_path: Path
) -> None:
    night_market(metastudio)
    state = str(tmp_path / "state.db")
    first = await start_bot(**WATCHING, stoplive_state_file=state)
    await watch(first).poll_now()
    metastudio.jobs[JOBS[0]].end("FAILED", error_info=RTMP_FAILED)
    await watch(first).poll_now()
    assert len(notes(first)) == 1
    await first.transport.close()
    metastudio.jobs[JOBS[1]].end("BLOCKED", block_reason="special exit")  # while down
    second = await start_bot(**WATCHING, stoplive_state_file=state)
    await watch(second).poll_now()
    await watch(second).poll_now()
    told = notes(second)
    assert len(told) == 2 and JOBS[1] in told[1] and "Blocked" in told[1]


async def test_two_replicas_on_one_redis_post_each_note_once_and_one_takes_over(
    start_bot: BotFactory, metastudio: MetaStudioStandIn, redis_url: str
) -> None:
    night_market(metastudio)
    one = await start_bot(**WATCHING, stoplive_redis_url=redis_url)
    two = await start_bot(**WATCHING, stoplive_redis_url=redis_url)
    results = {await watch(one).poll_now(), await watch(two).poll_now()}
    assert results == {"ok", "standby"}
    holder, other = (one, two) if await watch(one).poll_now() == "ok" else (two, one)
    metastudio.jobs[JOBS[0]].end("FAILED", error_info=RTMP_FAILED)
    for _ in range(2):
        await watch(one).poll_now()
        await watch(two).poll_now()
    assert len(notes(one)) == 1  # one Slack stand-in: every post of either replica
    await holder.transport.close()  # gives the lease back on its way out
    assert await watch(other).poll_now() == "ok"
    metastudio.jobs[JOBS[1]].end("FAILED", error_info=RTMP_FAILED)
    await watch(other).poll_now()
    told = notes(other)
    assert len(told) == 2 and JOBS[1] in told[1]


async def test_a_dead_holder_s_lease_is_taken_over_once_it_lapses(
    start_bot: BotFactory, redis_url: str
) -> None:
    store = RedisStore(redis_url)
    try:
        assert await store.hold(LEASE_KEY, "a-replica-that-died", 0.6) is None
        bot = await start_bot(**WATCHING, stoplive_redis_url=redis_url)
        assert await watch(bot).poll_now() == "standby"
        started = time.monotonic()
        while await watch(bot).poll_now() != "ok":
            assert time.monotonic() - started < 5
        assert await store.get_note(STATE_KEY) is not None
    finally:
        await store.aclose()


async def test_metastudio_unreachable_is_told_once_after_three_polls_and_once_when_back(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING)
    await watch(bot).poll_now()
    metastudio.inject(TENANT_JOBS, Fault("status", on="list", times=10_000, status=500))
    results = [await watch(bot).poll_now() for _ in range(5)]
    assert results == ["failed"] * 5
    assert len(notes(bot)) == 1 and notes(bot)[0].startswith("⚠️ *Can't watch streams:* ")
    metastudio.faults.clear()
    assert await watch(bot).poll_now() == "ok"
    await watch(bot).poll_now()
    told = notes(bot)
    assert len(told) == 2 and told[1].startswith("✅ Watching streams again")
    metrics = samples((await bot.http.get(bot.events_url.replace("slack/events", "metrics"))).text)
    assert metrics[("stoplive_stream_watch_polls_total", (("result", "failed"),))] >= 5
    posted = ("stoplive_stream_notes_total", (("kind", "cannot_watch"), ("result", "posted")))
    assert metrics[posted] >= 1


async def test_the_watch_is_off_without_a_notify_channel(start_bot: BotFactory) -> None:
    bot = await start_bot()
    assert bot.stoplive.workflow.stream_watch is None


async def home(bot: Harness, user: str = ALICE) -> str:
    """The Home tab ``user`` is shown when they open it now."""
    shown = len(bot.slack.home_views(user))
    assert await post_event(bot, home_opened(user)) == 200
    await bot.slack.wait_for(lambda: len(bot.slack.home_views(user)) > shown)
    return home_text(bot, user)


async def test_the_home_tab_lists_the_watch_s_state_from_any_replica(
    start_bot: BotFactory, metastudio: MetaStudioStandIn, redis_url: str
) -> None:
    off = await start_bot()
    assert "Stream watch:* off" in await home(off)
    one = await start_bot(**WATCHING, stoplive_redis_url=redis_url)
    two = await start_bot(**WATCHING, stoplive_redis_url=redis_url)
    await watch(one).poll_now()
    await watch(two).poll_now()
    for bot in (one, two):  # whichever polled, both say what its last poll saw
        text = await home(bot)
        assert f"Stream watch:* on, posting to <#{NOTIFY}>" in text and ", 1 live." in text
    metastudio.inject(TENANT_JOBS, Fault("status", on="list", times=10_000, status=500))
    await watch(one).poll_now()
    await watch(two).poll_now()
    assert "Polls failing since" in await home(one)
    assert "Stream watch" not in await home(one, MALLORY)  # off the allowlist: access only


async def test_a_stop_that_stopped_nothing_leaves_the_job_s_later_end_news(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING)
    await watch(bot).poll_now()
    metastudio.inject(JOB, Fault("status", on="stop", status=400, body=INVALID))
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click(CONFIRM_ACTION, value)
    assert await bot.stoplive.background.drain(10)
    assert metastudio.jobs[JOB].state == "PROCESSING"  # refused: the journal says so
    metastudio.jobs[JOB].end("FAILED", error_info=RTMP_FAILED)
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1 and "Ended with an error" in notes(bot)[0]


async def test_an_ordinary_end_after_a_stop_that_said_still_live_is_told_even_for_errors_only(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    """The channel's last word was "🔴 Still live": the job's end is news, whatever
    STOPLIVE_NOTIFY_ENDS says; after "✅ Stopped" it is not."""
    bot = await start_bot(**WATCHING, stoplive_verify_seconds=0, stoplive_watch_seconds=0)
    await watch(bot).poll_now()
    metastudio.inject(JOB, Fault("stays_live"))
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click(CONFIRM_ACTION, value)
    assert await bot.stoplive.background.drain(10)
    assert bot.final_channel_message()["text"].startswith("🔴 Still live")  # type: ignore[index]
    metastudio.jobs[JOB].end()  # SUCCEED, later, on its own
    await watch(bot).poll_now()
    [told] = notes(bot)
    assert told.startswith("⚪ Ended: `Spring sale`") and JOB in told


async def test_a_note_the_channel_would_not_take_is_told_at_the_next_poll_once(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING)
    await watch(bot).poll_now()
    bot.slack.refused_channels[NOTIFY] = "not_in_channel"
    metastudio.jobs[JOB].end("FAILED", error_info=RTMP_FAILED)
    await watch(bot).poll_now()
    await watch(bot).poll_now()
    refused = len(notes(bot))
    assert refused >= 2 and all("Ended with an error" in t for t in notes(bot))
    del bot.slack.refused_channels[NOTIFY]
    await watch(bot).poll_now()
    await watch(bot).poll_now()
    assert len(notes(bot)) == refused + 1 and "Ended with an error" in notes(bot)[-1]


class DownStore(MemoryStore):
    """A store whose lease and notes cannot be reached while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def hold(self, key: str, holder: str, ttl: float) -> str | None:
        if self.down:
            raise StoreUnavailable("connection refused (test)")
        return await super().hold(key, holder, ttl)


async def test_a_store_that_does_not_answer_stops_the_polls_and_loses_nothing(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    store = DownStore()
    bot = await start_bot(store=store, **WATCHING)
    await watch(bot).poll_now()
    store.down = True
    metastudio.jobs[JOB].end("FAILED", error_info=RTMP_FAILED)
    assert await watch(bot).poll_now() == "store_unavailable"  # no lease: no poll, no note
    assert notes(bot) == []
    store.down = False
    assert await watch(bot).poll_now() == "ok"
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1 and "Ended with an error" in notes(bot)[0]


async def test_the_end_of_an_outage_the_channel_would_not_take_is_told_at_the_next_poll(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING)
    await watch(bot).poll_now()
    metastudio.inject(TENANT_JOBS, Fault("status", on="list", times=10_000, status=500))
    for _ in range(3):
        await watch(bot).poll_now()
    metastudio.faults.clear()
    bot.slack.refused_channels[NOTIFY] = "not_in_channel"
    assert await watch(bot).poll_now() == "ok"  # back, but the channel refuses the note
    del bot.slack.refused_channels[NOTIFY]
    await watch(bot).poll_now()
    await watch(bot).poll_now()
    told = [t for t in notes(bot) if "Watching streams again" in t]
    assert len(told) >= 2 and told[-1].startswith("✅ Watching streams again")  # refused, then told
    assert sum("Polls failed for" in t for t in told[1:]) == 1  # told once it was taken
