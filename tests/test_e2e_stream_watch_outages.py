"""The stream watch when its parts fail or lag: a store outage right after a note, a lease lost
between the notes and their save, a slow Slack, a slow MetaStudio while many streams end at
once, a first list not read whole, a stop still in flight. The bot over real HTTP between the
stand-ins; faults at the stand-ins or the store (as ``test_e2e_stream_watch.py``). Where the
lease's or the poll's seconds matter, the watch is rebuilt with a shorter :class:`WatchClock`."""

from __future__ import annotations

import asyncio
import time

from bot.sandbox.standins.metastudio import NO_SUCH_API, TENANT_JOBS, Fault, MetaStudioStandIn
from bot.sandbox.standins.slack import ApiCall, UrlPost
from bot.stopflow.outcome import Verdict
from bot.stopflow.store import MemoryStore, StoreUnavailable
from bot.stopflow.watch_state import WatchClock
from bot.stopflow.watching import GONE_READS, LEASE_KEY, STATE_KEY, StreamWatch
from tests.builders import JOB, journal_entry
from tests.conftest import BotFactory
from tests.harness import Harness
from tests.test_e2e_stream_watch import (
    JOBS,
    OTHER_ROOM,
    RTMP_FAILED,
    WATCHING,
    night_market,
    notes,
    watch,
)


async def learnt(bot: Harness) -> None:
    """Two polls: the loop's first (at start-up, maybe still waiting for its turn) is over
    after them, so that no poll but the test's own runs from now on (one an hour)."""
    for _ in range(2):
        await watch(bot).poll_now()


async def retimed(bot: Harness, **seconds: float) -> StreamWatch:
    """The bot's watch rebuilt on the same parts with a shorter clock, in its place (once the
    old one's loop has made its one poll)."""
    await learnt(bot)
    old = watch(bot)
    new = StreamWatch(
        old.rules,
        old._metastudio,  # the bot's own parts, only the clock differs
        old._store,
        old._outlets,
        old.replica,
        WatchClock(**seconds),
    )
    bot.stoplive.workflow.stream_watch = new
    return new


class FailoverStore(MemoryStore):
    """A store that stops answering right after a lease renewal (``down_after_hold``: a Redis
    failover), and whose lease another replica may take meanwhile (``taken_by``, writing
    ``their_state`` as its poll would)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.down_after_hold = False
        self.taken_by: str | None = None
        self.their_state = ""

    async def hold(self, key: str, holder: str, ttl: float) -> str | None:
        if self.down:
            raise StoreUnavailable("connection refused (test)")
        if self.taken_by is not None and holder != self.taken_by:
            if self.their_state:
                await super().put_note(STATE_KEY, self.their_state, 3600)
                self.their_state = ""
            return self.taken_by
        held = await super().hold(key, holder, ttl)
        self.down = self.down_after_hold
        return held

    async def put_note(self, key: str, text: str, ttl: float) -> None:
        if self.down:
            raise StoreUnavailable("connection refused (test)")
        await super().put_note(key, text, ttl)


async def test_a_store_outage_after_a_note_does_not_repeat_the_note(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    store = FailoverStore()
    bot = await start_bot(store=store, **WATCHING)
    await learnt(bot)  # learns JOB live
    metastudio.jobs[JOB].end("FAILED", error_info=RTMP_FAILED)
    store.down_after_hold = True
    await watch(bot).poll_now()  # told; the state's write is refused
    assert len(notes(bot)) == 1
    assert await watch(bot).poll_now() == "store_unavailable"  # a few seconds of outage
    store.down_after_hold = store.down = False
    assert await watch(bot).poll_now() == "ok"
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1, notes(bot)  # the store still held what this replica read
    assert JOB not in (await store.get_note(STATE_KEY) or "")  # and now holds what it told


async def test_after_a_gap_the_state_another_replica_moved_on_is_taken(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    store = MemoryStore()
    night_market(metastudio)
    one = await start_bot(store=store, **WATCHING)
    two = await start_bot(store=store, **WATCHING)
    await learnt(two)
    first = await retimed(one, lease_ttl=0.5, margin=0.1, note=0.2)
    assert await first.poll_now() == "ok"  # learns the four jobs live
    metastudio.jobs[JOBS[0]].end("FAILED", error_info=RTMP_FAILED)
    await asyncio.sleep(0.6)  # the first replica's lease lapses (a stall, a failover)
    assert await watch(two).poll_now() == "ok"  # tells the end, saves
    await store.release(LEASE_KEY, watch(two).replica)
    assert await first.poll_now() == "ok"  # the store's state moved on: taken, not its own
    assert len(notes(one)) == 1, notes(one)


async def test_a_replica_that_lost_the_lease_while_posting_does_not_save_over_the_new_holder(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    store = FailoverStore()
    bot = await start_bot(store=store, **WATCHING)
    await learnt(bot)
    metastudio.jobs[JOB].end("FAILED", error_info=RTMP_FAILED)
    theirs = '{"the":"new holder\'s state"}'

    def lose_the_lease(record: ApiCall | UrlPost) -> None:
        if isinstance(record, ApiCall) and record.method == "chat.postMessage":
            store.taken_by, store.their_state = "replica-b", theirs

    bot.slack.observers.append(lose_the_lease)
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1
    assert await store.get_note(STATE_KEY) == theirs


async def test_a_slow_slack_never_keeps_the_watch_past_its_lease_and_tells_each_note_once(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    night_market(metastudio)
    bot = await start_bot(**WATCHING)
    clock = {"lease_ttl": 5.0, "lease_renew": 2.0, "poll": 2.0, "listing": 1.5, "note": 2.5}
    slow = await retimed(bot, **clock, margin=0.5)
    await slow.poll_now()
    for job_id in [JOB, *JOBS]:
        metastudio.jobs[job_id].end("FAILED", error_info=RTMP_FAILED)
    bot.slack.slow["chat.postMessage"] = 1.2
    started = time.monotonic()
    assert await slow.poll_now() == "ok"
    took = time.monotonic() - started
    assert took < clock["lease_ttl"] - 0.5, took  # posting stopped while the lease held
    assert 1 <= len(notes(bot)) < 4, notes(bot)  # the rest wait for the next poll
    for _ in range(3):
        await slow.poll_now()
    told = notes(bot)
    assert sorted(j for j in [JOB, *JOBS] for t in told if j in t) == sorted([JOB, *JOBS]), told


async def test_many_ends_at_once_on_a_slow_metastudio_are_told_not_lost_every_poll(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    """The reads of the jobs gone do not all fit in what the list left of the poll: those
    back in time are told, the others read next poll; none makes the poll fail."""
    jobs = {
        f"{n:08x}-87b1-45e5-8912-6102f7693265": f"{n:08x}-4f75-4b3a-a853-b649a21aaf66"
        for n in range(24)
    }
    for room, job in jobs.items():
        metastudio.add_job(room, job, room_name="Mall")
    bot = await start_bot(**WATCHING)
    slow = await retimed(bot, poll=3.0, listing=2.0)
    assert await slow.poll_now() == "ok"
    for job in jobs.values():  # a MetaStudio-wide incident: every stream fails at once
        metastudio.jobs[job].end("FAILED", error_info=RTMP_FAILED)
        metastudio.inject(job, Fault("slow", on="get", seconds=0.8, times=1000))
    results = [await slow.poll_now() for _ in range(2)]
    assert results == ["ok", "ok"]
    errors = [t for t in notes(bot) if "Ended with an error" in t]
    assert len(errors) >= 6 and not any("Can't watch" in t for t in notes(bot)), errors
    for _ in range(4):
        if len(notes(bot)) < len(jobs):
            assert await slow.poll_now() == "ok"
    assert sorted(j for j in jobs.values() for t in notes(bot) if j in t) == sorted(jobs.values())


async def many_failed(
    start_bot: BotFactory, metastudio: MetaStudioStandIn, count: int
) -> tuple[list[str], Harness]:
    """``count`` jobs live, each in a room of its own, learnt by the watch, then all FAILED."""
    jobs = [f"{n:08x}-4f75-4b3a-a853-b649a21aaf66" for n in range(count)]
    for n, job in enumerate(jobs):
        metastudio.add_job(f"{n:08x}-87b1-45e5-8912-6102f7693265", job, room_name="Mall")
    bot = await start_bot(**WATCHING)
    await learnt(bot)
    for job in jobs:
        metastudio.jobs[job].end("FAILED", error_info=RTMP_FAILED)
    return jobs, bot


async def test_the_jobs_gone_read_in_one_poll_are_capped(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    jobs, bot = await many_failed(start_bot, metastudio, GONE_READS + 5)
    reads = len(metastudio.calls("GET"))
    await watch(bot).poll_now()
    job_reads = [s for s in metastudio.calls("GET")[reads:] if s.path.split("/")[-1] in jobs]
    assert len(job_reads) == GONE_READS and len(notes(bot)) == GONE_READS
    await watch(bot).poll_now()
    assert len(notes(bot)) == len(jobs)


def room_by_room(metastudio: MetaStudioStandIn) -> None:
    fault = Fault("status", on="list", status=404, body=NO_SUCH_API, times=10**6)
    metastudio.inject(TENANT_JOBS, fault)


async def test_jobs_in_a_room_not_read_at_first_are_not_announced_as_starts_later(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    night_market(metastudio)  # live for an hour already
    room_by_room(metastudio)
    metastudio.inject(OTHER_ROOM, Fault("status", on="list", status=500, times=10**6))
    bot = await start_bot(**WATCHING, stoplive_notify_starts=True)
    await learnt(bot)  # Night market not read: nothing learnt of it
    del metastudio.faults[OTHER_ROOM]
    await watch(bot).poll_now()
    assert notes(bot) == [], notes(bot)
    metastudio.add_job(OTHER_ROOM, "b4c5d6e7-f8a9-4b0c-9d1e-2f3a4b5c6d7e", room_name="Night market")
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1 and notes(bot)[0].startswith("🟢 Went live: `Night market`")


async def test_a_job_whose_stop_is_in_flight_is_kept_watching_until_its_outcome(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING)
    await learnt(bot)
    store = bot.stoplive.store
    # a stop of JOB confirmed on another replica, its outcome not known yet
    assert await store.begin(journal_entry(), owner="replica-b", lease=600) is None
    metastudio.jobs[JOB].end("FAILED", error_info=RTMP_FAILED)
    await watch(bot).poll_now()
    assert notes(bot) == []  # its stop's outcome will say, or not: wait for it
    await store.finish("stop-1", "replica-b", Verdict.UNKNOWN)  # it could not tell
    await watch(bot).poll_now()
    assert len(notes(bot)) == 1 and "Ended with an error" in notes(bot)[0], notes(bot)


# --- found by the second review ------------------------------------------------------------


async def test_a_job_in_doubt_whose_room_was_cleaned_up_is_told(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    """The channel's last word was "❓ unknown": a 404 on the read (a TEMP room is deleted
    with its job) is news too, even when ordinary ends are not told."""
    bot = await start_bot(**WATCHING)
    await learnt(bot)
    store = bot.stoplive.store
    assert await store.begin(journal_entry(), owner="replica-b", lease=600) is None
    await store.finish("stop-1", "replica-b", Verdict.UNKNOWN)
    del metastudio.jobs[JOB]
    await watch(bot).poll_now()
    await watch(bot).poll_now()
    [told] = notes(bot)
    assert told.startswith("⚪ No longer live:")


async def test_jobs_gone_that_cannot_be_read_do_not_starve_the_others(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    jobs, bot = await many_failed(start_bot, metastudio, GONE_READS + 1)
    for job in jobs[:GONE_READS]:  # these reads keep failing (500)
        metastudio.inject(job, Fault("status", on="get", status=500, times=10**6))
    for _ in range(2):
        await watch(bot).poll_now()
    assert any(jobs[-1] in t for t in notes(bot)), notes(bot)


async def test_starts_not_posted_for_want_of_lease_are_told_at_a_later_poll_once(
    start_bot: BotFactory, metastudio: MetaStudioStandIn
) -> None:
    bot = await start_bot(**WATCHING, stoplive_notify_starts=True)
    clock = {"lease_ttl": 5.0, "lease_renew": 2.0, "poll": 2.0, "listing": 1.5, "note": 2.5}
    slow = await retimed(bot, **clock, margin=0.5)
    await slow.poll_now()  # learns JOB
    night_market(metastudio)  # three streams go live at once
    bot.slack.slow["chat.postMessage"] = 1.2
    for _ in range(4):
        await slow.poll_now()
    told = notes(bot)
    assert sorted(j for j in JOBS for t in told if j in t) == sorted(JOBS), told
    assert len(told) == 3  # each once
