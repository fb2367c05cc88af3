"""Replicas and crash safety end to end: the journal is written before the stop is sent, a
stop whose owner is gone is finished by whoever finds it (never stopped twice), and a store
that cannot be reached fails closed."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.redis_server import RedisServer
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from bot.stopflow.journal import LEASE, STOP_CALL_ALLOWANCE, job_claim, ticket_of
from bot.stopflow.store import (
    Claim,
    JournalEntry,
    MemoryStore,
    Ownership,
    RedisStore,
    SqliteStore,
    StoreUnavailable,
    Taken,
)
from tests.builders import JOB, ROOM, AuditLines, journal_entry
from tests.conftest import BotFactory
from tests.harness import ALICE, CHANNEL, Harness

STOP = f"{ROOM} {JOB}"
ORIGINAL_TS = "1700000000.000042"


class TimelineStore(MemoryStore):
    """A MemoryStore that notes, at each journal write, how many stops MetaStudio has seen."""

    def __init__(self, metastudio: MetaStudioStandIn) -> None:
        super().__init__()
        self.metastudio = metastudio
        self.timeline: list[tuple[str, int]] = []

    def _note(self, what: str) -> None:
        self.timeline.append((what, len(self.metastudio.calls("POST", "/stop"))))

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        self._note(f"begin:{entry.step}")
        return await super().begin(entry, owner, lease, claims)

    async def update(self, stop_id: str, owner: str, lease: float, **changes: str) -> bool:
        self._note("update:" + ",".join(sorted(changes)))
        return await super().update(stop_id, owner, lease, **changes)

    async def finish(
        self, stop_id: str, owner: str, outcome: str, *more: Any, **named: Any
    ) -> Ownership:
        self._note(f"finish:{outcome}")
        return await super().finish(stop_id, owner, outcome, *more, **named)


class FlakyStore(MemoryStore):
    """A store that cannot be reached while ``down`` is set, as Redis during a failover."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("connection refused (test)")

    async def claim(self, key: str, holder: str, ttl: float) -> str | None:
        self._check()
        return await super().claim(key, holder, ttl)

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        self._check()
        return await super().begin(entry, owner, lease, claims)

    async def ping(self) -> None:
        self._check()


def orphan(stop_id: str = "orphan-1", step: str = "answered") -> JournalEntry:
    """What a replica killed mid-stop leaves: an entry whose lease has run out."""
    return journal_entry(
        stop_id=stop_id,
        response_url="",
        created_at=time.time() - 20,
        step=step,
        channel_ts=ORIGINAL_TS,
        request_id="rid-of-the-stop",
    )


async def test_the_journal_entry_is_written_before_the_stop_is_sent(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    store = TimelineStore(metastudio)
    bot = await start_bot(store=store)
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(bot.final_channel_message)
    assert await bot.stoplive.background.drain(5)
    assert store.timeline[0] == ("begin:sent", 0)  # written while no stop had arrived
    assert ("update:request_id,step", 1) in store.timeline
    assert store.timeline[-1] == ("finish:stopped", 1)
    [entry] = await store.recent(0)
    posted = bot.slack.calls("chat.postMessage")[0]
    assert entry.finished_at and entry.outcome == "stopped" and entry.requester == ALICE
    assert entry.channel_ts == bot.final_channel_message()["ts"]  # type: ignore[index]
    assert posted.args["channel"] == CHANNEL and entry.request_id


@pytest.mark.parametrize("state", ["SUCCEED", "PROCESSING"])
async def test_a_stop_whose_owner_died_is_finished_by_another_replica(
    start_bot: BotFactory, audit_lines: AuditLines, state: str
) -> None:
    store = MemoryStore()
    bot = await start_bot(store=store)
    bot.metastudio.jobs[JOB].state = state
    await store.begin(orphan(), owner="replica-killed", lease=-1)
    assert await bot.stoplive.workflow.take_over_orphans() == 1
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["ts"] == ORIGINAL_TS and final["channel"] == CHANNEL  # revised in place
    if state == "SUCCEED":
        assert final["text"].startswith("✅ Stopped:")
    else:
        assert "still Live" in final["text"] or "Still live" in final["text"]
    assert bot.metastudio.calls("POST", "/stop") == []  # never a second stop
    assert bot.metastudio.calls("GET", JOB)  # the job was read
    [line] = [a for a in audit_lines() if a["event"] == "outcome"]
    assert line["recovered_by"] == bot.stoplive.workflow.replica
    assert line["outcome"] == ("stopped" if state == "SUCCEED" else "still_live")
    [entry] = await store.recent(0)
    assert entry.finished_at and entry.recovered_from == "replica-killed"
    assert await bot.stoplive.workflow.take_over_orphans() == 0  # finished once


async def taken_over(
    bot: Harness, store: MemoryStore, clicked_ago: float, step: str = "answered"
) -> tuple[str, str]:
    """A live job's stop, clicked ``clicked_ago`` seconds ago on a replica that stopped
    renewing its lease while holding the job's claim, taken over by ``bot``; the claim."""
    bot.metastudio.jobs[JOB].state = "PROCESSING"
    entry = replace(orphan(step=step), created_at=time.time() - clicked_ago)
    job_key, holder = job_claim(ticket_of(entry))
    await store.begin(entry, owner="replica-late", lease=-1, claims=[Claim(job_key, holder, 300)])
    assert await bot.stoplive.workflow.take_over_orphans() == 1
    await bot.slack.wait_for(bot.final_channel_message)
    return job_key, holder


async def test_after_a_take_over_the_job_can_be_stopped_again_once_the_first_call_is_over(
    start_bot: BotFactory,
) -> None:
    """The claim of a replica that stopped renewing is given back by the take-over once its
    stop call can no longer be on its way (a lapsed lease does not prove the owner gone):
    when the outcome says the job is still live, nobody waits the claim's whole life."""
    store = MemoryStore()
    bot = await start_bot(store=store)
    await taken_over(bot, store, clicked_ago=STOP_CALL_ALLOWANCE + LEASE + 1)
    assert await bot.stoplive.background.drain(5)
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(lambda: bot.metastudio.calls("POST", "/stop"))
    assert len(bot.metastudio.calls("POST", "/stop")) == 1  # not "already being stopped"


async def test_a_take_over_keeps_the_job_claimed_while_the_first_call_may_be_on_its_way(
    start_bot: BotFactory,
) -> None:
    """The journal says the stop was sent, not that its call came back: it may be on its
    way, however long ago the click was by this replica's clock (tests/test_stopping.py
    sees the claim given back once the call's allowance after the take-over is over)."""
    store = MemoryStore()
    bot = await start_bot(store=store)
    clicked_ago = 10 * (STOP_CALL_ALLOWANCE + LEASE)
    job_key, holder = await taken_over(bot, store, clicked_ago, step="sent")
    assert await bot.stoplive.workflow.take_over_orphans() == 0
    assert await store.claim(job_key, "probe", 1) == holder  # no second stop yet


async def test_a_take_over_gives_back_only_the_claim_of_the_stop_it_took_over(
    start_bot: BotFactory,
) -> None:
    store = MemoryStore()
    bot = await start_bot(store=store)
    bot.metastudio.jobs[JOB].state = "SUCCEED"
    job_key, _ = job_claim(ticket_of(orphan()))
    await store.begin(orphan(), owner="replica-killed", lease=-1)
    await store.claim(job_key, f"{ALICE}/a-later-stop", 300)  # the old claim expired, a new stop
    assert await bot.stoplive.workflow.take_over_orphans() == 1
    await bot.slack.wait_for(bot.final_channel_message)
    assert await store.claim(job_key, "probe", 1) == f"{ALICE}/a-later-stop"


async def test_the_take_over_loop_finds_orphans_by_itself(start_bot: BotFactory) -> None:
    store = MemoryStore()
    bot = await start_bot(store=store)
    bot.metastudio.jobs[JOB].state = "SUCCEED"
    stop = asyncio.Event()
    loop = asyncio.create_task(bot.stoplive.workflow.run_takeovers(stop, every=0.05))
    await store.begin(orphan(step="sent"), owner="replica-killed", lease=-1)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["ts"] == ORIGINAL_TS  # revised in place
    # the journal never learnt what came back: not "did not answer", not "lost"
    assert "What MetaStudio answered the stop is unknown" in final["text"]
    assert "did not answer" not in final["text"] and "lost" not in final["text"]
    stop.set()
    await asyncio.wait_for(loop, 5)


async def test_a_live_stop_is_not_taken_over_by_a_second_replica(
    start_bot: BotFactory,
) -> None:
    store = MemoryStore()
    first = await start_bot(store=store, stoplive_verify_seconds=1.0)
    second = await start_bot(store=store)
    first.metastudio.inject(JOB, Fault("stays_live"))
    value, _ = await first.confirmation(STOP)
    await first.click("stoplive.confirm", value)
    await first.slack.wait_for(lambda: first.slack.calls("chat.postMessage"))
    assert await second.stoplive.workflow.take_over_orphans() == 0  # its owner renews the lease
    await first.slack.wait_for(first.final_channel_message)
    assert len(first.metastudio.calls("POST", "/stop")) == 1


async def test_a_store_that_cannot_be_reached_fails_closed_then_recovers(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture, audit_lines: AuditLines
) -> None:
    store = FlakyStore()
    bot = await start_bot(store=store)
    healthz = bot.events_url.replace("/slack/events", "/healthz")
    value, _ = await bot.confirmation(STOP)
    _, hook = await bot.click("stoplive.confirm", value)
    told = await bot.first_post(hook)
    assert "can't confirm a stop safely right now" in told["text"]
    assert told["text"].startswith("⚠️ Not stopped")
    assert await bot.stoplive.background.drain(5)
    assert bot.metastudio.calls("POST", "/stop") == [] and bot.slack.calls("chat.postMessage") == []
    assert any(a["outcome"] == "refused_store_unavailable" for a in audit_lines())
    unhealthy = await bot.http.get(healthz)
    assert unhealthy.status_code == 503
    assert unhealthy.json() == {"ok": False, "reason": "store_unavailable"}  # the detail: logged
    assert "connection refused (test)" in caplog.text

    store.down = False  # the store is back: nothing to restart
    assert (await bot.http.get(healthz)).status_code == 200
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("✅ Stopped:")


async def test_two_replicas_on_one_redis_send_one_stop(
    start_bot: BotFactory, redis_url: str
) -> None:
    first = await start_bot(stoplive_redis_url=redis_url)
    second = await start_bot(stoplive_redis_url=redis_url)
    alice_value, _ = await first.confirmation(STOP, user=ALICE)
    bob_value, _ = await second.confirmation(STOP, user="U0BOB0002")
    first.metastudio.inject(JOB, Fault("slow", seconds=0.3))  # both clicks land while one runs
    (_, alice_hook), (_, bob_hook) = await asyncio.gather(
        first.click("stoplive.confirm", alice_value, user=ALICE),
        second.click("stoplive.confirm", bob_value, user="U0BOB0002"),
    )
    await first.slack.wait_for(first.final_channel_message)
    assert await first.stoplive.background.drain(5) and await second.stoplive.background.drain(5)
    assert len(first.metastudio.calls("POST", "/stop")) == 1
    told = [
        p["text"]
        for p in first.slack.posts(alice_hook) + first.slack.posts(bob_hook)
        if "Already being stopped" in p["text"]
    ]
    assert len(told) == 1 and len(first.slack.calls("chat.postMessage")) == 1


async def test_redis_going_away_fails_closed_and_coming_back_is_picked_up(
    start_bot: BotFactory, own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot(stoplive_redis_url=own_redis_server.url)
    healthz = bot.events_url.replace("/slack/events", "/healthz")
    assert (await bot.http.get(healthz)).status_code == 200
    value, _ = await bot.confirmation(STOP)
    own_redis_server.stop()
    _, hook = await bot.click("stoplive.confirm", value)
    told = await bot.first_post(hook)
    assert told["text"].startswith("⚠️ Not stopped") and "state store" in told["text"]
    assert await bot.stoplive.background.drain(10)
    assert bot.metastudio.calls("POST", "/stop") == []
    assert (await bot.http.get(healthz)).status_code == 503

    own_redis_server.start()  # same port: the bot reconnects by itself
    assert (await bot.http.get(healthz)).status_code == 200
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("✅ Stopped")


async def test_the_journal_is_pruned_on_a_schedule_and_keeps_no_finished_url(
    start_bot: BotFactory, tmp_path: Path
) -> None:
    """A real stop into a SQLite journal: once finished, its response URL is blanked; past
    the keep time it is pruned by the take-over loop, though nobody opened the history."""
    path = tmp_path / "journal.sqlite3"
    bot = await start_bot(store=SqliteStore(str(path), keep_finished=0.3))
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(bot.final_channel_message)
    assert await bot.stoplive.background.drain(5)

    def journal() -> list[tuple[str, str]]:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT step, response_url FROM journal").fetchall()

    assert journal() == [("finished", "")]
    await asyncio.sleep(0.4)
    stop = asyncio.Event()
    loop = asyncio.create_task(
        bot.stoplive.workflow.run_takeovers(stop, every=0.02, prune_every=0.05)
    )
    try:
        for _ in range(100):
            if not journal():
                break
            await asyncio.sleep(0.02)
        assert journal() == []
    finally:
        stop.set()
        await loop


async def test_a_take_over_that_cannot_read_the_job_names_the_room_the_confirmation_named(
    start_bot: BotFactory,
) -> None:
    """The journal keeps the room's name: with the job unreadable, the channel still reads
    "Night market", not a room ID, and so does the history."""
    store = MemoryStore()
    bot = await start_bot(store=store)
    bot.metastudio.inject(JOB, Fault("status", on="get", status=503, times=1000))
    entry = replace(orphan(), created_at=time.time() - 3600, room_name="Night market")
    await store.begin(entry, owner="replica-killed", lease=-1)
    assert await bot.stoplive.workflow.take_over_orphans() == 1
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("❓") and "Night market" in final["text"]
    [kept] = await store.recent(0)
    assert kept.room_name == "Night market" and kept.finished_at


async def test_an_entry_an_older_stoplive_left_in_redis_is_taken_over_not_unreadable(
    start_bot: BotFactory, redis_server: RedisServer
) -> None:
    """A Redis hash written before a field existed (``room_name``, and ``detail`` for one as
    old as that) is read with the field's default: an upgrade mid-stop must not strand it."""
    redis_server.flush()
    store = RedisStore(redis_server.url)
    entry = orphan()
    await store.begin(entry, owner="replica-old", lease=-1)
    assert redis_server.send(f"HDEL stoplive:stop:{entry.stop_id} room_name detail") == ":2"
    bot = await start_bot(store=store)
    bot.metastudio.jobs[JOB].state = "SUCCEED"
    assert await bot.stoplive.workflow.take_over_orphans() == 1
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["ts"] == ORIGINAL_TS and final["text"].startswith("✅ Stopped:")
    await store.aclose()
