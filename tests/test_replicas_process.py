"""Replicas as real, separate ``python -m bot`` processes: shared Redis claims and tickets, a
replica SIGKILLed mid-stop whose stop another one finishes (within the promised 60 s, without a
second stop), Redis going away and coming back, and a SQLite restart finishing a killed stop.

The in-process versions of these rules are in ``test_e2e_replicas.py``; here nothing is shared
but Redis (or the SQLite file) and the stand-ins, which run in the test's process so faults
can be injected and what MetaStudio and Slack received can be read.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox.redis_server import RedisServer
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from bot.sandbox.standins.slack import ApiCall, SlackStandIn
from bot.stopflow.store import JournalEntry
from bot.stopflow.store.redis import RedisStore
from tests.bot_process import BotProcess
from tests.builders import JOB, ROOM, bot_settings
from tests.harness import BOB, CHANNEL

OTHER_JOB = "5a0e6f7b-7c1d-4e2f-9a3b-4c5d6e7f8a9b"
HELD_JOB = "9c8b7a65-4321-4fed-8cba-0123456789ab"
OWNER_DEATH_BOUND = 60.0  # the promise: a stop is finished within 60 s of its owner's death
HELD = 600.0  # an answer held this long never comes while the test runs


async def eventually(check: Callable[[], Any], within: float) -> Any:
    """Poll ``check`` (a function, or a coroutine function) until it is truthy: for what the
    Slack stand-in is not told about."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (result := await check() if inspect.iscoroutinefunction(check) else check()):
        assert loop.time() < deadline, f"not within {within} s: {check}"
        await asyncio.sleep(0.05)
    return result


def stop_calls(metastudio: MetaStudioStandIn, job: str) -> int:
    return len(metastudio.calls("POST", f"/{job}/stop"))


def channel_story(slack: SlackStandIn, job: str) -> list[ApiCall]:
    """Every channel message about ``job`` (posted or revised), in order."""
    return [
        c
        for c in slack.api_calls
        if c.method in ("chat.postMessage", "chat.update") and job in str(c.args)
    ]


def final_update(slack: SlackStandIn, ts: str, prefix: str) -> ApiCall | None:
    """The revision of message ``ts`` whose text starts with ``prefix``, if there is one yet."""
    found = [
        c for c in slack.calls("chat.update") if c.ts == ts and c.args["text"].startswith(prefix)
    ]
    return found[-1] if found else None


def outcomes(bot: BotProcess, job: str) -> list[dict[str, Any]]:
    return [a for a in bot.audit() if a["event"] == "outcome" and a["job"] == job]


async def journal(url: str) -> list[JournalEntry]:
    store = RedisStore(url)
    try:
        return await store.recent(0)
    finally:
        await store.aclose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def replicas(
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    """Two replicas sharing one Redis. ``first`` watches a stop for 2 min (so it is still at
    it when a test kills it), ``second`` for 2 s."""
    metastudio.add_job(ROOM, OTHER_JOB)
    metastudio.add_job(ROOM, HELD_JOB)
    common = {"stoplive_redis_url": own_redis_server.url}
    first = BotProcess(
        "first",
        bot_settings(metastudio, slack, stoplive_verify_seconds=120, **common),
        tmp_path / "first",
    )
    second = BotProcess("second", bot_settings(metastudio, slack, **common), tmp_path / "second")
    try:
        await asyncio.gather(first.start(http), second.start(http))
        yield first, second
    finally:
        await asyncio.gather(first.close(), second.close())


async def test_one_replica_honours_the_others_confirmation_and_six_clicks_stop_once(
    replicas: tuple[BotProcess, BotProcess],
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    http: httpx.AsyncClient,
) -> None:
    first, second = replicas
    # a confirmation issued by the first replica, clicked on the second
    value = await first.confirmation(http, slack, f"{ROOM} {OTHER_JOB}")
    await second.click(http, slack, value)
    [posted] = await slack.wait_for(lambda: channel_story(slack, OTHER_JOB)[:1], 20)
    assert await slack.wait_for(lambda: final_update(slack, posted.ts, "✅ Stopped:"), 20)
    assert metastudio.jobs[OTHER_JOB].stops == 1
    assert [a["outcome"] for a in outcomes(second, OTHER_JOB)] == ["stopped"]
    assert outcomes(first, OTHER_JOB) == []

    # the same click three times to each replica at once, while MetaStudio takes 1 s to stop
    value = await second.confirmation(http, slack, f"{ROOM} {JOB}")
    metastudio.inject(JOB, Fault("slow", seconds=1.0))
    hooks = await asyncio.gather(*(bot.click(http, slack, value) for bot in replicas * 3))
    [posted] = await slack.wait_for(lambda: channel_story(slack, JOB)[:1], 20)
    assert await slack.wait_for(lambda: final_update(slack, posted.ts, "✅ Stopped:"), 20)
    told = await slack.wait_for(lambda: all(slack.posts(h) for h in hooks) and hooks, 20)
    refused = [h for h in told if slack.posts(h)[0]["text"].startswith("✋ Already used")]
    assert len(refused) == 5  # every other click is answered, and did nothing
    assert metastudio.jobs[JOB].stops == 1 and stop_calls(metastudio, JOB) == 1
    story = channel_story(slack, JOB)
    assert story[0].method == "chat.postMessage" and {c.ts for c in story} == {posted.ts}
    winners = [a for bot in replicas for a in outcomes(bot, JOB)]
    assert [a["outcome"] for a in winners] == ["stopped"]


async def test_a_killed_replicas_stops_are_finished_by_the_other_without_a_second_stop(
    replicas: tuple[BotProcess, BotProcess],
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
) -> None:
    first, second = replicas
    applied = await first.confirmation(http, slack, f"{ROOM} {JOB}")
    held = await first.confirmation(http, slack, f"{ROOM} {HELD_JOB}")
    # JOB: MetaStudio applies the stop and its answer is lost; then every read of the job hangs
    # (until the owner is dead). HELD_JOB: MetaStudio holds every stop, unapplied, all along
    # (the owner reads the job live after the first one's timeout, and sends it once more).
    metastudio.inject(JOB, Fault("lost_answer"))
    hung_reads = Fault("slow", on="get", times=10_000, seconds=HELD)
    metastudio.inject(JOB, hung_reads)
    metastudio.inject(HELD_JOB, Fault("slow", seconds=HELD, times=10))
    await asyncio.gather(first.click(http, slack, applied), first.click(http, slack, held))

    def announced() -> dict[str, str] | None:
        """Each job's channel message ts, once the owner has posted it and journaled it."""
        stories = {job: channel_story(slack, job) for job in (JOB, HELD_JOB)}
        if not all(stories.values()):
            return None
        return {job: calls[0].ts for job, calls in stories.items()}

    sent = await slack.wait_for(announced, 30)  # HELD_JOB: after the stop's 12 s budget

    async def journaled() -> bool:  # the owner journals each ts right after posting it
        return {e.channel_ts for e in await journal(own_redis_server.url)} == set(sent.values())

    await eventually(journaled, 10)
    assert metastudio.jobs[JOB].stops == 1 and metastudio.jobs[HELD_JOB].stops == 0
    by_owner = {job: stop_calls(metastudio, job) for job in (JOB, HELD_JOB)}
    assert by_owner == {JOB: 1, HELD_JOB: 2}  # JOB could not be read: never sent again
    [owner] = {e.owner for e in await journal(own_redis_server.url)}

    await first.kill()
    killed = time.monotonic()
    hung_reads.times = 0  # MetaStudio answers reads again; the dead owner's stay unanswered

    def finished() -> tuple[ApiCall, ApiCall] | None:
        stopped = final_update(slack, sent[JOB], "✅ Stopped:")
        still_live = final_update(slack, sent[HELD_JOB], "🔴 Still live")
        return (stopped, still_live) if stopped and still_live else None

    stopped, still_live = await slack.wait_for(finished, OWNER_DEATH_BOUND)
    assert time.monotonic() - killed < OWNER_DEATH_BOUND
    assert stopped.args["channel"] == still_live.args["channel"] == CHANNEL  # revised in place
    assert {job: stop_calls(metastudio, job) for job in by_owner} == by_owner  # the dead one's
    assert metastudio.jobs[JOB].stops == 1 and metastudio.jobs[HELD_JOB].stops == 0
    stories = [c for c in slack.calls("chat.postMessage") if "thread_ts" not in c.args]
    assert len(stories) == 2  # no new story, the originals revised (replies go in their threads)
    recovered = {a["job"]: a for a in second.audit() if a["event"] == "outcome"}
    assert {job: a["outcome"] for job, a in recovered.items()} == {
        JOB: "stopped",
        HELD_JOB: "still_live",
    }

    async def closed() -> list[JournalEntry] | None:  # the journal is closed last
        entries = await journal(own_redis_server.url)
        return entries if all(e.finished_at for e in entries) else None

    entries = await eventually(closed, 10)
    assert {e.recovered_from for e in entries} == {owner}
    assert {a["recovered_by"] for a in recovered.values()} == {e.owner for e in entries} != {owner}


async def test_redis_down_a_click_stops_nothing_and_is_answered_then_stops_work_again(
    replicas: tuple[BotProcess, BotProcess],
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
) -> None:
    first, second = replicas
    value = await first.confirmation(http, slack, f"{ROOM} {JOB}")
    own_redis_server.stop()
    hooks = await asyncio.gather(first.click(http, slack, value), second.click(http, slack, value))
    answers = await slack.wait_for(lambda: all(map(slack.posts, hooks)) and hooks, 20)
    for hook in answers:
        assert slack.posts(hook)[0]["text"].startswith("⚠️ Not stopped: I can't confirm a stop")
    assert [await first.health(http), await second.health(http)] == [503, 503]
    for bot in replicas:
        [refusal] = [a for a in bot.audit() if a["event"] == "confirm"]
        assert refusal["outcome"] == "refused_store_unavailable"
    assert stop_calls(metastudio, JOB) == 0 and slack.calls("chat.postMessage") == []

    own_redis_server.start()  # same port: neither replica is restarted
    await asyncio.gather(first.healthy(http, 20), second.healthy(http, 20))
    value = await second.confirmation(http, slack, f"{ROOM} {JOB}", user=BOB)
    await first.click(http, slack, value, user=BOB)
    [posted] = await slack.wait_for(lambda: channel_story(slack, JOB)[:1], 20)
    assert await slack.wait_for(lambda: final_update(slack, posted.ts, "✅ Stopped:"), 20)
    assert metastudio.jobs[JOB].stops == 1


async def test_sqlite_a_stop_killed_mid_call_is_posted_after_a_restart_in_the_same_directory(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    # no STOPLIVE_STATE_FILE: the journal is the default file in the working directory
    bot = BotProcess("bot", bot_settings(metastudio, slack, stoplive_state_file=None), tmp_path)
    try:
        await bot.start(http)
        value = await bot.confirmation(http, slack, f"{ROOM} {JOB}")
        metastudio.inject(JOB, Fault("slow", seconds=1.0))  # applied 1 s on: after the kill
        await bot.click(http, slack, value)
        await eventually(lambda: metastudio.calls("POST", "/stop"), 20)
        await bot.kill()
        killed = time.monotonic()
        await eventually(lambda: metastudio.jobs[JOB].stops, 10)
        assert slack.calls("chat.postMessage") == []  # nothing was told before the kill
        assert (tmp_path / "stoplive-state.db").exists()

        await bot.start(http)
        [posted] = await slack.wait_for(lambda: channel_story(slack, JOB)[:1], OWNER_DEATH_BOUND)
        assert time.monotonic() - killed < OWNER_DEATH_BOUND
        assert posted.args["channel"] == CHANNEL
        assert posted.args["text"].startswith("✅ Stopped:")
        # killed before the journal learnt the stop's answer: not "lost", not "did not answer"
        assert "What MetaStudio answered the stop is unknown" in posted.args["text"]
        assert stop_calls(metastudio, JOB) == 1 and metastudio.jobs[JOB].stops == 1
        [outcome] = outcomes(bot, JOB)
        assert outcome["outcome"] == "stopped" and outcome["recovered_by"]
    finally:
        await bot.close()
