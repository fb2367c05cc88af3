"""One contract, three stores: MemoryStore (the reference), SqliteStore and RedisStore.

Every store-agnostic test runs against each backend; "another instance" is a second SqliteStore
on the same file or a second Redis connection pool (for memory, the same object: it is one
process's store). The backend-specific tests below them cover what only one store has: the
SQLite file itself, and a Redis that is down, comes back, or never answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.metrics import REGISTRY
from bot.sandbox.redis_server import RedisServer
from bot.stopflow.store import (
    Claim,
    JournalEntry,
    MemoryStore,
    Ownership,
    RedisStore,
    SqliteStore,
    StateStore,
    StoreRefusesWrites,
    StoreUnavailable,
    Taken,
    entry_key,
    open_store,
)
from bot.stopflow.store.memory import KEEP_FINISHED
from bot.stopflow.store.redis import redis_url_problem
from tests.builders import journal_entry
from tests.harness import CHANNEL

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600.0


@dataclass
class Backend:
    """Opens stores of one kind over one shared storage, and closes them after the test."""

    name: str
    tmp_path: Path
    redis_url: str
    opened: list[StateStore] = field(default_factory=list)

    def open(self, keep_finished: float = KEEP_FINISHED) -> StateStore:
        store: StateStore
        if self.name == "memory":
            if self.opened:
                return self.opened[0]
            store = MemoryStore(keep_finished=keep_finished)
        elif self.name == "sqlite":
            store = SqliteStore(str(self.tmp_path / "state.sqlite3"), keep_finished=keep_finished)
        else:
            store = RedisStore(self.redis_url, keep_finished=keep_finished)
        self.opened.append(store)
        return store


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> AsyncIterator[Backend]:
    redis_server.flush()
    opened = Backend(request.param, tmp_path, redis_server.url)
    yield opened
    for store in opened.opened:
        await store.aclose()


def entry(stop_id: str = "", created_at: float | None = None, **fields: str) -> JournalEntry:
    values: dict[str, Any] = {
        "room_id": "room-1",
        "job_id": "job-1",
        "stop_id": stop_id or uuid.uuid4().hex,
    }
    if created_at is not None:
        values["created_at"] = created_at
    return journal_entry(**(values | fields))


def errors(operation: str) -> float:
    return REGISTRY.get_sample_value("stoplive_store_errors_total", {"operation": operation}) or 0


# --- claims ---------------------------------------------------------------------------------


async def test_a_claim_is_taken_once_and_a_second_caller_learns_the_holder(
    backend: Backend,
) -> None:
    store, other = backend.open(), backend.open()
    assert await store.claim("ticket:1", "U1", 60) is None
    assert await store.claim("ticket:1", "U2", 60) == "U1"
    assert await other.claim("ticket:1", "U3", 60) == "U1"
    assert await other.claim("ticket:2", "U3", 60) is None


async def test_concurrent_claims_have_exactly_one_winner_whom_the_rest_name(
    backend: Backend,
) -> None:
    stores = [backend.open(), backend.open()]
    for round_ in range(10):
        key = f"job:{round_}"
        answers = await asyncio.gather(*(stores[i % 2].claim(key, f"U{i}", 60) for i in range(12)))
        winners = [f"U{i}" for i, held in enumerate(answers) if held is None]
        assert len(winners) == 1
        assert {held for held in answers if held is not None} == set(winners)


async def test_begin_takes_its_claims_and_writes_the_entry_in_one_step(backend: Backend) -> None:
    store, other = backend.open(), backend.open()
    claims = [Claim("ticket:1", "U1", 60), Claim("job:1", "U1", 60)]
    assert await store.begin(entry("stop-1"), "replica-a", 30, claims) is None
    assert [e.stop_id for e in await other.recent(0)] == ["stop-1"]
    assert await other.claim("ticket:1", "U2", 60) == "U1"
    assert await other.claim("job:1", "U2", 60) == "U1"


async def test_begin_stops_at_a_held_claim_keeps_those_before_and_writes_nothing(
    backend: Backend,
) -> None:
    store, other = backend.open(), backend.open()
    assert await other.claim("job:1", "U9", 60) is None
    claims = [Claim("ticket:2", "U1", 60), Claim("job:1", "U1", 60), Claim("third", "U1", 60)]
    assert await store.begin(entry("stop-2"), "replica-a", 30, claims) == Taken("job:1", "U9")
    assert await other.recent(0) == []  # no entry: nothing may be sent
    assert await other.claim("ticket:2", "U2", 60) == "U1"  # taken before the held one
    assert await other.claim("third", "U2", 60) is None  # never reached
    # the same confirmation clicked again is told it was used, before the job is looked at
    again = await store.begin(entry("stop-2"), "replica-a", 30, claims)
    assert again == Taken("ticket:2", "U1")


async def test_concurrent_begins_of_one_job_write_exactly_one_entry(backend: Backend) -> None:
    stores = [backend.open(), backend.open()]
    answers = await asyncio.gather(
        *(
            stores[i % 2].begin(
                entry(f"stop-{i}"),
                f"replica-{i % 2}",
                30,
                [Claim(f"ticket:{i}", f"U{i}", 60), Claim("job:1", f"U{i}", 60)],
            )
            for i in range(12)
        )
    )
    winners = [i for i, taken in enumerate(answers) if taken is None]
    assert len(winners) == 1
    assert {t for t in answers if t is not None} == {Taken("job:1", f"U{winners[0]}")}
    assert [e.stop_id for e in await stores[0].recent(0)] == [f"stop-{winners[0]}"]


async def test_a_claim_expires_after_its_ttl(backend: Backend) -> None:
    store = backend.open()
    assert await store.claim("job:1", "U1", 0.05) is None
    await asyncio.sleep(0.1)
    assert await store.claim("job:1", "U2", 60) is None
    assert await store.claim("job:1", "U3", 60) == "U2"


async def test_only_the_holder_releases_a_claim(backend: Backend) -> None:
    store = backend.open()
    await store.claim("job:1", "U1", 60)
    await store.release("job:1", "U2")
    assert await store.claim("job:1", "U3", 60) == "U1"
    await store.release("job:1", "U1")
    assert await store.claim("job:1", "U3", 60) is None
    await store.release("never-claimed", "U1")


# --- journal --------------------------------------------------------------------------------


async def test_an_entry_is_begun_updated_and_finished_by_its_owner(backend: Backend) -> None:
    store, other = backend.open(), backend.open()
    stop = entry()
    before = time.time()
    await store.begin(stop, "replica-a", 30)
    [found] = await other.recent(0)
    assert found == stop.with_changes(owner="replica-a", lease_until=found.lease_until)
    assert before + 30 <= found.lease_until <= time.time() + 30

    assert await store.update(stop.stop_id, "replica-a", 60, step="sent")
    assert await store.update(stop.stop_id, "replica-a", 60, step="answered", request_id="r-1")
    [found] = await other.recent(0)
    assert (found.step, found.request_id, found.owner) == ("answered", "r-1", "replica-a")
    assert found.lease_until >= before + 60

    assert await store.finish(stop.stop_id, "replica-a", "stopped", "job ended")
    [found] = await other.recent(0)
    assert (found.step, found.outcome, found.detail) == ("finished", "stopped", "job ended")
    assert before <= found.finished_at <= time.time()
    assert not await store.update(stop.stop_id, "replica-a", 60, step="sent")


async def test_finish_gives_the_stops_job_claim_back_in_the_same_step(backend: Backend) -> None:
    """Closing a stop and letting its job go are one write (one round trip at the end of every
    stop). The claim goes only if this stop still holds it, and it goes whether or not the
    entry is still the caller's: a stop taken over or forgotten still lets its job go."""
    store = backend.open()
    for stop_id in ("mine", "theirs"):
        await store.begin(entry(stop_id), "replica-a", 30, [Claim(f"job:{stop_id}", stop_id, 60)])
    await store.claim("job:other", "someone-else", 60)
    finished = await store.finish("mine", "replica-a", "stopped", release=("job:mine", "mine"))
    assert finished is Ownership.OWNED
    refused = await store.finish("theirs", "replica-b", "stopped", release=("job:theirs", "theirs"))
    assert refused is Ownership.ELSEWHERE
    missing = await store.finish("gone", "replica-a", "stopped", release=("job:other", "gone"))
    assert missing is Ownership.MISSING
    assert await store.claim("job:mine", "next", 60) is None
    assert await store.claim("job:theirs", "next", 60) is None
    assert await store.claim("job:other", "next", 60) == "someone-else"
    [mine] = [found for found in await store.recent(0) if found.stop_id == "mine"]
    assert (mine.step, mine.outcome) == ("finished", "stopped")


async def test_update_and_finish_refuse_an_owner_that_is_not_one(backend: Backend) -> None:
    store = backend.open()
    stop = entry()
    await store.begin(stop, "replica-a", 30)
    assert not await store.update(stop.stop_id, "replica-b", 30, step="sent")
    assert not await store.finish(stop.stop_id, "replica-b", "stopped")
    assert not await store.update("no-such-stop", "replica-a", 30, step="sent")
    assert not await store.finish("no-such-stop", "replica-a", "stopped")
    [found] = await store.recent(0)
    assert (found.step, found.owner, found.finished_at) == ("confirmed", "replica-a", 0.0)


async def test_after_a_take_over_the_old_owner_is_refused(backend: Backend) -> None:
    store, other = backend.open(), backend.open()
    stop = entry()
    await store.begin(stop, "replica-a", 0)
    [taken] = await other.take_orphans("replica-b", 30)
    assert (taken.stop_id, taken.owner, taken.recovered_from) == (
        stop.stop_id,
        "replica-b",
        "replica-a",
    )
    assert not await store.update(stop.stop_id, "replica-a", 30, step="sent")
    assert not await store.finish(stop.stop_id, "replica-a", "stopped")
    assert await other.update(stop.stop_id, "replica-b", 30, step="sent")
    assert await other.finish(stop.stop_id, "replica-b", "stopped")


async def test_update_refuses_a_field_that_is_not_updatable(backend: Backend) -> None:
    store = backend.open()
    stop = entry()
    await store.begin(stop, "replica-a", 30)
    with pytest.raises(ValueError, match="recovered_from"):
        await store.update(stop.stop_id, "replica-a", 30, recovered_from="replica-b")
    [found] = await store.recent(0)
    assert found.recovered_from == ""


async def test_take_orphans_takes_only_expired_unfinished_entries(backend: Backend) -> None:
    store = backend.open()
    live, expired, finished = entry("live"), entry("expired"), entry("finished")
    await store.begin(live, "replica-a", 60)
    await store.begin(expired, "replica-a", 0)
    await store.begin(finished, "replica-a", 0)
    assert await store.finish("finished", "replica-a", "stopped")

    [taken] = await store.take_orphans("replica-b", 60)
    assert (taken.stop_id, taken.owner, taken.recovered_from) == (
        "expired",
        "replica-b",
        "replica-a",
    )
    assert taken.lease_until > time.time() + 50
    assert await store.take_orphans("replica-c", 60) == []  # the fresh lease protects it


async def test_take_orphans_respects_its_limit(backend: Backend) -> None:
    store = backend.open()
    for i in range(5):
        await store.begin(entry(f"stop-{i}"), "replica-a", 0)
    assert await store.take_orphans("replica-b", 60, limit=0) == []
    first = await store.take_orphans("replica-b", 60, limit=3)
    rest = await store.take_orphans("replica-b", 60, limit=3)
    assert (len(first), len(rest)) == (3, 2)
    assert {e.stop_id for e in first + rest} == {f"stop-{i}" for i in range(5)}


async def test_concurrent_takers_each_get_an_orphan_exactly_once(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    orphans = {f"stop-{i:03d}" for i in range(150)}
    for stop_id in orphans:
        await first.begin(entry(stop_id), "gone", 0)

    async def take_all(store: StateStore, owner: str) -> list[str]:
        taken: list[str] = []
        while batch := await store.take_orphans(owner, 60, limit=4):
            assert all(e.owner == owner and e.recovered_from == "gone" for e in batch)
            taken += [e.stop_id for e in batch]
        return taken

    results = await asyncio.gather(
        *(take_all(s, f"taker-{i}") for i, s in enumerate([first, second] * 2))
    )
    everything = [stop_id for taken in results for stop_id in taken]
    assert sorted(everything) == sorted(orphans)  # each once, none left behind


async def test_recent_is_newest_first_within_the_window(backend: Backend) -> None:
    store = backend.open()
    now = time.time()
    await store.begin(entry("3h-ago", created_at=now - 3 * HOUR), "replica-a", 60)
    await store.begin(entry("25h-ago", created_at=now - 25 * HOUR), "replica-a", 60)
    await store.begin(entry("1h-ago", created_at=now - HOUR), "replica-a", 60)
    assert [e.stop_id for e in await store.recent(now - 24 * HOUR)] == ["1h-ago", "3h-ago"]
    assert [e.stop_id for e in await store.recent(0)] == ["1h-ago", "3h-ago", "25h-ago"]


async def test_a_finished_entry_is_forgotten_after_the_keep_time_an_open_one_never(
    backend: Backend,
) -> None:
    store = backend.open(keep_finished=0.2)
    await store.begin(entry("open", created_at=time.time() - 48 * HOUR), "replica-a", 60)
    await store.begin(entry("done"), "replica-a", 60)
    assert await store.finish("done", "replica-a", "stopped")
    assert [e.stop_id for e in await store.recent(0)] == ["done", "open"]
    await asyncio.sleep(0.3)
    assert [e.stop_id for e in await store.recent(0)] == ["open"]


async def test_begin_refuses_an_entry_that_exists_open_or_finished_and_takes_nothing(
    backend: Backend,
) -> None:
    """A confirmation stops once even when its claim is gone (expired, or lost with a Redis
    that forgot it): the journal entry itself refuses a second begin (SQLite replaced it)."""
    store, other = backend.open(), backend.open()
    assert await store.begin(entry("stop"), "replica-a", 60) is None
    again = [Claim("ticket:again", "U2", 60)]
    assert await other.begin(entry("stop"), "replica-b", 60, again) == Taken(
        entry_key("stop"), "replica-a"
    )
    assert await other.claim("ticket:again", "U3", 60) is None  # nothing was taken
    assert await store.finish("stop", "replica-a", "stopped")
    assert await other.begin(entry("stop"), "replica-b", 60) == Taken(
        entry_key("stop"), "replica-a"
    )
    [found] = await store.recent(0)
    assert (found.owner, found.step, found.outcome) == ("replica-a", "finished", "stopped")


async def test_update_and_finish_tell_a_missing_entry_from_another_owners(
    backend: Backend,
) -> None:
    store = backend.open()
    await store.begin(entry("stop"), "replica-a", 60)
    assert await store.update("stop", "replica-a", 60, step="sent") is Ownership.OWNED
    assert await store.update("stop", "replica-b", 60, step="sent") is Ownership.ELSEWHERE
    assert await store.finish("stop", "replica-b", "stopped") is Ownership.ELSEWHERE
    assert await store.update("gone", "replica-a", 60, step="sent") is Ownership.MISSING
    assert await store.finish("gone", "replica-a", "stopped") is Ownership.MISSING
    assert await store.finish("stop", "replica-a", "stopped") is Ownership.OWNED
    # finished: an update is refused as not the owner's to make, not as missing
    assert await store.update("stop", "replica-a", 60, step="sent") is Ownership.ELSEWHERE


async def test_a_finished_stop_keeps_no_response_url(backend: Backend) -> None:
    """A response URL lets whoever holds it post into the channel as the app: kept while the
    stop may still need it (a take-over posts through it), blanked once the stop finished."""
    store = backend.open()
    url = "https://hooks.slack.com/commands/T0/1/secret-hook"
    await store.begin(entry("stop", response_url=url), "replica-a", 60)
    [found] = await store.recent(0)
    assert found.response_url == url
    assert await store.finish("stop", "replica-a", "stopped")
    [found] = await backend.open().recent(0)
    assert found.response_url == "" and found.outcome == "stopped"


async def test_prune_forgets_finished_entries_past_keeping_without_recent(
    backend: Backend,
) -> None:
    store = backend.open(keep_finished=0.2)
    await store.begin(entry("open", created_at=time.time() - 48 * HOUR), "replica-a", 60)
    await store.begin(entry("done"), "replica-a", 60)
    assert await store.finish("done", "replica-a", "stopped")
    await store.prune()
    assert [e.stop_id for e in await store.recent(0)] == ["done", "open"]
    await asyncio.sleep(0.3)
    await store.prune()
    assert await kept_ids(backend) == {"open"}


async def kept_ids(backend: Backend) -> set[str]:
    """The journal's entries as the storage holds them, read behind the store's back (so
    that nothing ``recent`` forgets as it reads is counted as pruned)."""
    if backend.name == "memory":
        return set(backend.opened[0]._journal)  # type: ignore[attr-defined]
    if backend.name == "sqlite":
        with sqlite3.connect(backend.tmp_path / "state.sqlite3") as db:
            return {row[0] for row in db.execute("SELECT stop_id FROM journal")}
    client = Redis.from_url(backend.redis_url, decode_responses=True)
    try:
        created = [k for k in await client.keys("*") if k.endswith("created")]
        return set(await client.zrange(created[0], 0, -1)) if created else set()
    finally:
        await client.aclose()


async def test_ping_answers(backend: Backend) -> None:
    await backend.open().ping()


# --- text: any string round-trips, a lone surrogate is refused before anything is written ----

texts = st.text(max_size=40)
surrogates = st.builds(
    lambda head, s, tail: head + s + tail,
    texts,
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    texts,
)


@given(text=texts, created=st.floats(min_value=0, max_value=4e9))
def test_a_journal_record_round_trips_any_text(text: str, created: float) -> None:
    stop = entry(text, created, room_id=text, detail=text, outcome=text, request_id=text)
    assert JournalEntry.from_record(stop.to_record()) == stop
    assert stop.row() == astuple(stop)  # the shallow row is the dataclass's own, in order


@given(bad=surrogates)
def test_a_journal_record_refuses_a_lone_surrogate(bad: str) -> None:
    with pytest.raises(StoreUnavailable, match="requester: not storable"):
        entry(requester=bad).to_record()


@given(record=st.dictionaries(st.sampled_from(["stop_id", "created_at", "x"]), texts))
def test_an_unreadable_record_is_store_trouble_not_a_crash(record: dict[str, str]) -> None:
    with pytest.raises(StoreUnavailable, match="unreadable"):
        JournalEntry.from_record(record)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=texts)
async def test_every_store_keeps_any_text_exactly(backend: Backend, text: str) -> None:
    store = backend.open()
    stop = entry(uuid.uuid4().hex + text, requester=text, response_url=text, channel_ts=text)
    await store.begin(stop, text, 0)
    assert await store.claim("claim:" + text, text, 60) is None
    assert await store.claim("claim:" + text, "other", 60) == text
    assert await store.update(stop.stop_id, text, 0, detail=text)
    taken = {e.stop_id: e for e in await store.take_orphans("taker", 60, limit=100)}
    assert taken[stop.stop_id] == stop.with_changes(
        owner="taker", recovered_from=text, detail=text, lease_until=taken[stop.stop_id].lease_until
    )


# --- holds and notes --------------------------------------------------------------------------


async def test_a_hold_is_renewed_by_its_holder_only_and_lapses_when_not(backend: Backend) -> None:
    store, other = backend.open(), backend.open()
    assert await store.hold("lease", "replica-a", 0.3) is None
    assert await other.hold("lease", "replica-b", 60) == "replica-a"
    await asyncio.sleep(0.2)
    assert await store.hold("lease", "replica-a", 0.3) is None  # renewed: 0.3 s from now
    await asyncio.sleep(0.2)
    assert await other.hold("lease", "replica-b", 0.2) == "replica-a"  # 0.4 s after the first
    assert await other.claim("lease", "replica-b", 60) == "replica-a"  # one key space
    await asyncio.sleep(0.25)
    assert await other.hold("lease", "replica-b", 60) is None  # lapsed: taken over
    assert await store.hold("lease", "replica-a", 60) == "replica-b"


async def test_concurrent_holds_have_exactly_one_holder(backend: Backend) -> None:
    stores = [backend.open(), backend.open()]
    answers = await asyncio.gather(*(stores[i % 2].hold("lease", f"R{i}", 60) for i in range(8)))
    winners = [f"R{i}" for i, held in enumerate(answers) if held is None]
    assert len(winners) == 1
    assert {held for held in answers if held is not None} == set(winners)


async def test_a_note_is_kept_replaced_shared_and_forgotten_after_its_ttl(
    backend: Backend,
) -> None:
    store, other = backend.open(), backend.open()
    assert await store.get_note("watch") is None
    await store.put_note("watch", "first", 60)
    await store.put_note("watch", "second", 60)
    assert await other.get_note("watch") == "second"
    await store.put_note("short", "gone soon", 0.05)
    assert await other.get_note("short") == "gone soon"
    await asyncio.sleep(0.1)
    await store.prune()
    assert await other.get_note("short") is None
    assert await other.get_note("watch") == "second"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=texts)
async def test_a_note_keeps_any_text_exactly(backend: Backend, text: str) -> None:
    store = backend.open()
    await store.put_note("note:" + text, text * 3, 60)
    assert await backend.open().get_note("note:" + text) == text * 3


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bad=surrogates)
async def test_every_store_refuses_a_lone_surrogate_and_writes_nothing(
    backend: Backend, bad: str
) -> None:
    store = backend.open()
    with pytest.raises(StoreUnavailable, match="not storable"):
        await store.begin(entry(channel_id=bad), "replica-a", 60)
    with pytest.raises(StoreUnavailable, match="not storable"):
        await store.claim("job:1", bad, 60)
    with pytest.raises(StoreUnavailable, match="not storable"):
        await store.hold("lease", bad, 60)
    with pytest.raises(StoreUnavailable, match="not storable"):
        await store.put_note("note", bad, 60)
    assert await store.get_note("note") is None
    await store.begin(entry("stop"), "replica-a", 60)
    with pytest.raises(StoreUnavailable, match="not storable"):
        await store.update("stop", "replica-a", 60, detail=bad)
    with pytest.raises(StoreUnavailable, match="not storable"):
        await store.finish("stop", "replica-a", "stopped", bad)
    [found] = await store.recent(0)
    assert (found.detail, found.finished_at, found.channel_id) == ("", 0.0, CHANNEL)
    assert await store.claim("job:1", "U1", 60) in (None, "U1")


# --- SQLite: the file --------------------------------------------------------------------------


async def test_sqlite_creates_its_file_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(str(path))
    assert not path.exists()
    await store.ping()
    assert path.exists()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    await store.aclose()


async def test_sqlite_keeps_its_files_private_and_forgets_a_finished_url(
    tmp_path: Path,
) -> None:
    """Created 0600 (its -wal and -shm too) whatever the umask; an existing world-readable
    file is narrowed; a finished stop's response URL is gone from the bytes on disk."""
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "state.sqlite3"
        store = SqliteStore(str(path))
        url = "https://hooks.slack.com/commands/T0/1/secret-hook"
        await store.begin(entry("stop", response_url=url), "replica-a", 60)
        for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        assert await store.finish("stop", "replica-a", "stopped")
        await store.aclose()  # checkpoints: the WAL's pages go into the file
        assert url.encode() not in path.read_bytes()

        older = tmp_path / "older.sqlite3"
        older.touch(mode=0o644)
        older.chmod(0o644)
        reopened = SqliteStore(str(older))
        await reopened.ping()
        assert stat.S_IMODE(older.stat().st_mode) == 0o600
        await reopened.aclose()
    finally:
        os.umask(old_umask)


# The store as a process that may not change another user's file's mode: root without
# CAP_FOWNER (the bot is not root in production; this machine's tests are).
_SHARED_FILE_STORE = """
import asyncio, logging, sys
from bot.stopflow.store.sqlite import SqliteStore

async def main() -> None:
    store = SqliteStore(sys.argv[1])
    assert await store.claim("stop", "replica-a", 60) is None
    await store.aclose()

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
asyncio.run(main())
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(), reason="needs root and setpriv"
)
async def test_sqlite_uses_a_shared_file_it_may_not_narrow_and_says_so(tmp_path: Path) -> None:
    """Another user's group file (0660) cannot be narrowed to 0600 by this process: stops go on
    (not "unable to open database file"), and one WARNING names the file and its mode."""
    path = tmp_path / "shared.sqlite3"
    path.touch()
    os.chown(path, 65534, 65534)  # nobody's
    path.chmod(0o660)
    process = await asyncio.create_subprocess_exec(
        *("/usr/bin/setpriv", "--bounding-set=-fowner"),
        *(sys.executable, "-c", _SHARED_FILE_STORE, str(path)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
    assert process.returncode == 0, out
    warnings = [line for line in out.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, out
    assert str(path) in warnings[0] and "0660" in warnings[0] and "0600" in warnings[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o660


async def test_two_sqlite_stores_opening_one_new_file_at_once_both_work(tmp_path: Path) -> None:
    # SQLite answers "locked" at once, not after its busy timeout, when two connections put
    # a new file in WAL mode together: it happened about one time in six.
    for round_ in range(30):
        path = str(tmp_path / f"state-{round_}.sqlite3")
        stores = [SqliteStore(path), SqliteStore(path)]
        try:
            answers = await asyncio.gather(
                *(
                    store.claim("job:1", holder, 60)
                    for store, holder in zip(stores, "AB", strict=True)
                )
            )
        finally:
            for store in stores:
                await store.aclose()
        assert answers in ([None, "A"], ["B", None])  # no StoreUnavailable: one winner


async def another_writer(path: str) -> threading.Event:
    """Another process's connection, holding ``path``'s write lock until the event is set
    (it commits and closes within 5 s either way)."""
    locked, release = threading.Event(), threading.Event()

    def writing() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(5)
        db.execute("COMMIT")
        db.close()

    threading.Thread(target=writing, daemon=True).start()
    await asyncio.to_thread(locked.wait, 5)
    return release


async def test_sqlite_waits_for_another_writer_in_its_thread_never_on_the_loop(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.sqlite3")
    store = SqliteStore(path)
    await store.ping()  # the file exists, in WAL mode
    release = await another_writer(path)
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while not release.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    claiming = asyncio.create_task(store.claim("job:1", "U1", 60))
    await asyncio.sleep(0.3)
    assert not claiming.done()  # waiting for the other writer...
    release.set()
    assert await claiming is None  # ... then taken
    await ticking
    assert max(gaps) < 0.15  # and the loop went on meanwhile
    assert await store.claim("job:1", "U2", 60) == "U1"
    await store.aclose()


async def test_sqlite_health_reads_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    """A ping (``/healthz``) reads: it answers while another process holds the write lock
    and a claim waits for it in the thread."""
    path = str(tmp_path / "state.sqlite3")
    store = SqliteStore(path)
    await store.ping()
    release = await another_writer(path)
    claiming = asyncio.create_task(store.claim("job:1", "U1", 60))
    await asyncio.sleep(0.1)
    await asyncio.wait_for(store.ping(), timeout=0.5)
    assert not claiming.done()
    release.set()
    assert await claiming is None
    await store.aclose()


async def test_sqlite_folds_its_wal_back_into_the_file_as_it_goes(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(str(path))
    for n in range(3000):  # without checkpoints the WAL would pass 50 MB
        await store.begin(entry(f"stop-{n}"), "replica-a", 30)
        if n % 50 == 0:
            await asyncio.sleep(0.005)  # a store call never waits: a bot's loop turns between
    await asyncio.sleep(0.2)  # the last checkpoint, in the thread
    # Without checkpoints it passes 50 MB; with them it stays a few MB (4.6 MB seen on a
    # loaded 2-core machine, where the checkpointing thread gets fewer turns).
    assert (tmp_path / "state.sqlite3-wal").stat().st_size < 16 * 1024 * 1024
    assert len(await store.recent(0)) == 3000
    await store.aclose()


async def test_sqlite_restarted_on_the_same_file_takes_over_what_was_left(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite3")
    killed = SqliteStore(path)
    await killed.begin(entry("left-behind"), "replica-old", 0.05)
    await killed.update("left-behind", "replica-old", 0.05, step="sent")
    # the old process is never closed: it was killed mid-stop
    restarted = SqliteStore(path)
    [found] = await restarted.recent(0)
    assert (found.stop_id, found.step, found.finished_at) == ("left-behind", "sent", 0.0)
    await asyncio.sleep(0.1)
    [taken] = await restarted.take_orphans("replica-new", 60)
    assert (taken.stop_id, taken.recovered_from, taken.step) == (
        "left-behind",
        "replica-old",
        "sent",
    )
    await restarted.aclose()
    await killed.aclose()


async def test_sqlite_adds_columns_a_file_from_an_older_stoplive_lacks(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE journal (stop_id TEXT PRIMARY KEY, room_id TEXT NOT NULL)")
        db.execute("INSERT INTO journal VALUES ('old', 'room-0')")
    store = SqliteStore(str(path))
    await store.begin(entry("new"), "replica-a", 60)
    assert [e.stop_id for e in await store.recent(0)] == ["new", "old"]
    await store.aclose()


async def test_sqlite_that_cannot_open_its_file_fails_closed_and_counts(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "no-such-dir" / "state.sqlite3"))
    before = errors("claim")
    with pytest.raises(StoreUnavailable, match=r"claim on .*no-such-dir"):
        await store.claim("job:1", "U1", 60)
    assert errors("claim") == before + 1
    (tmp_path / "no-such-dir").mkdir()  # the operator fixes it: the next call opens the file
    assert await store.claim("job:1", "U1", 60) is None
    await store.aclose()
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.ping()


# --- Redis: down, back, silent ---------------------------------------------------------------


async def test_redis_down_fails_closed_fast_and_works_again_when_back(
    own_redis_server: RedisServer,
) -> None:
    store = RedisStore(own_redis_server.url)
    assert await store.claim("job:1", "U1", 60) is None
    own_redis_server.stop()
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "claim": lambda: store.claim("job:2", "U1", 60),
        "release": lambda: store.release("job:1", "U1"),
        "begin": lambda: store.begin(entry("stop"), "replica-a", 60),
        "update": lambda: store.update("stop", "replica-a", 60, step="sent"),
        "finish": lambda: store.finish("stop", "replica-a", "stopped"),
        "take_orphans": lambda: store.take_orphans("replica-a", 60),
        "recent": lambda: store.recent(0),
        "ping": store.ping,
    }
    for operation, call in calls.items():
        before = errors(operation)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=f"Redis {operation}: ConnectionError"):
            await call()
        assert time.monotonic() - started < 2.0
        assert errors(operation) == before + 1
    own_redis_server.start()  # same port, empty: the scripts are loaded again
    assert await store.claim("job:2", "U1", 60) is None
    await store.begin(entry("stop"), "replica-a", 60)
    assert await store.finish("stop", "replica-a", "stopped")
    await store.aclose()


async def test_redis_restarted_while_idle_is_used_again_without_a_failed_call(
    own_redis_server: RedisServer,
) -> None:
    store = RedisStore(own_redis_server.url)
    await store.ping()
    # in a thread, so the event loop runs meanwhile, as the bot's does while Redis restarts
    await asyncio.to_thread(own_redis_server.stop)
    await asyncio.to_thread(own_redis_server.start)
    assert await store.claim("job:1", "U1", 60) is None
    await store.aclose()


async def test_a_redis_that_accepts_and_never_answers_fails_within_two_seconds() -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisStore(f"redis://127.0.0.1:{port}/0")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="Redis begin: TimeoutError"):
        await store.begin(entry(), "replica-a", 60)
    assert time.monotonic() - started < 2.0
    await store.aclose()
    server.close()


async def test_redis_flushed_or_restarted_empty_mid_stop_answers_missing_not_another_owner(
    own_redis_server: RedisServer,
) -> None:
    """What the supervisor hears when Redis forgets its entry: "missing", so it writes the
    entry back (begin) and carries on, instead of going quiet as if taken over."""
    store = RedisStore(own_redis_server.url)
    await store.begin(entry("stop"), "replica-a", 60, [Claim("ticket:1", "U1", 60)])
    own_redis_server.flush()
    assert await store.update("stop", "replica-a", 60, step="answered") is Ownership.MISSING
    assert await store.begin(entry("stop", step="answered"), "replica-a", 60) is None
    assert await store.update("stop", "replica-a", 60, channel_ts="1.2") is Ownership.OWNED
    await asyncio.to_thread(own_redis_server.stop)
    await asyncio.to_thread(own_redis_server.start)  # no persistence: empty again
    assert await store.finish("stop", "replica-a", "stopped") is Ownership.MISSING
    await store.aclose()


@pytest.mark.parametrize("refusing", ["out_of_memory", "read_only"])
async def test_a_redis_that_answers_but_refuses_writes_says_so_and_fails_its_ping(
    own_redis_server: RedisServer, refusing: str
) -> None:
    store = RedisStore(own_redis_server.url)
    await store.ping()
    getattr(own_redis_server, refusing)()
    with pytest.raises(StoreRefusesWrites, match="Redis ping"):
        await store.ping()  # a PING would answer PONG
    with pytest.raises(StoreRefusesWrites, match="Redis begin"):
        await store.begin(entry(), "replica-a", 60, [Claim("ticket:1", "U1", 60)])
    with pytest.raises(StoreRefusesWrites, match="Redis claim"):
        await store.claim("job:1", "U1", 60)
    await store.aclose()


async def test_redis_caveats_name_no_persistence_eviction_and_a_replica(
    own_redis_server: RedisServer,
) -> None:
    store = RedisStore(own_redis_server.url)
    # the test server keeps nothing on disk (as a Redis started with no config file may)
    [caveat] = await store.caveats()
    assert caveat.startswith("keeps nothing on disk (appendonly no, no RDB save)")
    own_redis_server.send("CONFIG SET appendonly yes")
    assert await store.caveats() == []
    own_redis_server.send("CONFIG SET maxmemory 100mb")
    own_redis_server.send("CONFIG SET maxmemory-policy volatile-lru")
    [caveat] = await store.caveats()
    assert "may evict keys when full (maxmemory-policy volatile-lru)" in caveat
    own_redis_server.send("CONFIG SET maxmemory-policy noeviction")
    own_redis_server.read_only()
    [caveat] = await store.caveats()
    assert caveat.startswith("is a slave, not the primary")
    assert abs(await store.clock_offset()) < 1.0  # one host, one clock
    await store.aclose()


async def test_redis_caveats_say_so_when_its_configuration_cannot_be_read(tmp_path: Path) -> None:
    """Managed Redis services often disable CONFIG: say what to make sure of instead."""
    with RedisServer(tmp_path, options={"rename-command": "CONFIG ''"}) as server:
        store = RedisStore(server.url)
        [caveat] = await store.caveats()
        assert caveat.startswith("cannot read its configuration (CONFIG or ROLE refused)")
        assert "appendonly yes" in caveat and "noeviction" in caveat
        await store.aclose()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:6379/0?socket_timeout=abc", "Invalid value for 'socket_timeout'"),
        ("redis://:s3cret@127.0.0.1:6379/abc", "the database (the part after the last /)"),
        ("redis://:s3cret@h:6379/0?socket_timeout=3600", "?socket_timeout= is set by stoplive"),
        ("rediss://:s3cret@h/0?ssl_cert_reqs=none&retry_on_timeout=yes", "?retry_on_timeout="),
        ("redis://h/0?protocol=3", "?protocol= is set by stoplive itself"),
        ("redis://:s3cret@h/0?socket_timout=5", "?socket_timout= is not an option stoplive"),
        ("redis://h/0?retry=1", "?retry= is not an option stoplive passes to Redis"),
        ("redis://h/0?ssl_cert_reqs=none", "(ssl_* options need rediss://)"),
        ("rediss://h/0?ssl_validate_ocsp=yes", "it takes client_name, db, health_check_interval"),
        ("rediss://:s3cret@h/0?ssl_cert_reqs=requird", "Requirements Flag: requird"),
        ("rediss://:s3cret@h/0?ssl_min_version=12", "Unsupported TLS/SSL version"),
        ("rediss://:s3cret@h/0?ssl_ca_certs=/no/such/ca.pem", "cannot make a TLS connection"),
    ],
)
def test_a_redis_url_redis_py_would_misread_is_refused(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="not a usable Redis URL") as refused:
        open_store(url, "unused.sqlite3")
    assert problem in str(refused.value) and "s3cret" not in str(refused.value)


async def test_a_redis_url_with_the_options_it_may_set_works(redis_server: RedisServer) -> None:
    """What the URL may still set reaches a real Redis and every call works (an option
    redis-py does not take made every call a TypeError)."""
    url = redis_server.url + "?client_name=stoplive&health_check_interval=30&socket_keepalive=yes"
    store = open_store(url, "unused.sqlite3")
    await store.ping()
    assert await store.claim("job:url", "U1", 60) is None
    await store.aclose()


def test_a_rediss_url_may_set_its_tls_options() -> None:
    assert (
        redis_url_problem("rediss://:pw@h:6380/0?ssl_cert_reqs=none&ssl_check_hostname=no") is None
    )


def test_a_bad_redis_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="not a usable Redis URL") as refused:
        open_store("http://user:s3cret@redis.example:6379", "unused.sqlite3")
    assert "s3cret" not in str(refused.value)


def test_open_store_chooses_redis_when_given_a_url_else_the_file(tmp_path: Path) -> None:
    assert isinstance(open_store("redis://127.0.0.1:1/0", "x"), RedisStore)
    assert isinstance(open_store(None, str(tmp_path / "x")), SqliteStore)
    assert isinstance(open_store("  ", str(tmp_path / "x")), SqliteStore)


# --- another process takes orphans at the same time --------------------------------------------

TAKER = """
import asyncio, json, sys
from bot.stopflow.store import open_store

async def main() -> None:
    store = open_store(sys.argv[1] or None, sys.argv[2])
    await store.ping()
    print("ready", flush=True)
    sys.stdin.readline()
    taken = []
    while batch := await store.take_orphans("subprocess", 60, limit=2):
        taken += [e.stop_id for e in batch]
        await asyncio.sleep(0.002)
    await store.aclose()
    print(json.dumps(taken), flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_another_process_and_this_one_take_each_orphan_exactly_once(
    kind: str, tmp_path: Path, redis_url: str
) -> None:
    url = redis_url if kind == "redis" else ""
    path = str(tmp_path / "state.sqlite3")
    store = open_store(url or None, path)
    orphans = {f"stop-{i:03d}" for i in range(240)}
    for stop_id in orphans:
        await store.begin(entry(stop_id), "gone", 0)
    taker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", TAKER, url, path,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert taker.stdin and taker.stdout
    assert await asyncio.wait_for(taker.stdout.readline(), 30) == b"ready\n"
    taker.stdin.write(b"go\n")
    await taker.stdin.drain()
    mine: list[str] = []
    while batch := await store.take_orphans("test-process", 60, limit=2):
        mine += [e.stop_id for e in batch]
        await asyncio.sleep(0.002)  # a SQLite call does not wait: leave the other a chance
    theirs = json.loads(await asyncio.wait_for(taker.stdout.readline(), 30))
    await taker.wait()
    await store.aclose()
    assert sorted(mine + theirs) == sorted(orphans)
    assert mine and theirs  # both really took part
