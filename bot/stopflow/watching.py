"""The stream watch: the poller that tells the notify channel about streams nobody asked about
(one ended with an error or was blocked, one live for hours, one going live), one watcher per
store.

One poll lists the live jobs (:class:`~bot.stopflow.finding.LiveFinder`: the tenant list, or
room by room), compares them with what the watch remembers, reads the final state of each job
that is no longer listed, and posts what is news. Why each rule:

- **One watcher.** Replicas sharing a store each run this loop, but only the holder of a lease
  in the store (:data:`LEASE_KEY`; its seconds in :class:`WatchClock`: 45 s, renewed every 15 s
  whatever the poll interval) polls: a dead holder is replaced within a minute, and no note is
  posted twice. A poll is bounded (25 s) within what is left of a lease just renewed, notes are
  posted only while the lease has a few seconds left (each within its own timeout), and the
  lease is renewed before what was told is saved: a replica that lost it saves nothing over the
  new holder's state.
- **Nothing repeated.** What is live and what was announced is one note in the store
  (:data:`STATE_KEY`), rewritten only when it changed. After a gap in the lease (a store that did
  not answer, another holder), the note is read again: if it is still what this replica last
  read or wrote, nobody moved it on and the state in memory is newer (it may hold a note told
  whose save failed); else the store's is taken. The first poll with nothing remembered learns
  silently; after a restart, what changed meanwhile is news (an end while stoplive was down).
- **Only what is known.** A job missing from a list that was not read whole, or from a room
  that could not be read, is not "ended"; a job no longer listed is read before anything is
  said (at most :data:`GONE_READS` a poll, within what is left of the poll's budget: a read not
  back in time is made next poll, the others are used), and one in a state stoplive does not
  know is kept watching, never called ended. A job stoplive itself stopped (its journal) is not
  told again: its outcome already was; one whose stop is still in flight is kept watching until
  that stop's outcome says whether its end is news.
- **One word per outage.** A poll that fails is counted; the third in a row posts one "Can't
  watch streams", and the first good poll after it one "Watching streams again".
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import logging
import time
from typing import Any, Literal

from bot.metastudio import CALL_FAILURES, MetaStudioClient, MetaStudioError, SmartLiveJob, describe
from bot.metrics import STREAM_NOTES, STREAM_WATCH_POLLS
from bot.stopflow.allowlist import Grant
from bot.stopflow.finding import LiveFinder
from bot.stopflow.outcome import Verdict
from bot.stopflow.outlet import OutletFactory
from bot.stopflow.store import StateStore, StoreUnavailable
from bot.stopflow.watch_state import Note, NotifyRules, WatchClock, Watched, WatchState
from bot.stopflow.words import stream_notes
from bot.stopflow.words.markup import Reply

log = logging.getLogger(__name__)

LEASE_KEY = "stream-watch:lease"
STATE_KEY = "stream-watch:state"  # what is live, what was announced, the outage count
STATUS_KEY = "stream-watch:status"  # the last poll, for the App Home of any replica
KEEP_FOR = 7 * 86400.0  # how long the state outlives the last watcher
DEFAULT_CLOCK = WatchClock()
# The jobs gone read in one poll: a MetaStudio-wide incident can end every stream at once, and
# the client reads 6 at a time; 30 at a slow 1 s each fit in the 7 s the list leaves of a poll.
# The rest are read by the next polls (told a minute later, rather than none of them ever).
GONE_READS = 30
FAILURES_TOLD = 3  # failed polls in a row before the channel is told
JOURNAL_WINDOW = 86400.0  # the journal keeps a day: the stops looked up for jobs gone
# The MetaStudio user the watch reads as (X-App-UserId): it stops nothing, and MetaStudio's
# records then say which reads were the watch's.
WATCH_APP_USER = "stoplive-notify"
# Journal outcomes after which the channel already knows the job ended. After any other (still live, refused, unknown…) the channel's
# last word left the job live or in doubt: its end is news, told even when ordinary ends are not.
# A stop in flight (outcome "") settles nothing yet: its job is kept watching until it has one.
ENDED_TOLD = frozenset({Verdict.STOPPED, Verdict.ENDED})


PollResult = Literal["ok", "failed", "standby", "store_unavailable"]


class StreamWatch:
    def __init__(
        self,
        rules: NotifyRules,
        metastudio: MetaStudioClient,
        store: StateStore,
        outlets: OutletFactory,
        replica: str,
        clock: WatchClock = DEFAULT_CLOCK,
    ) -> None:
        self.rules = rules
        self.clock = clock
        self._metastudio = metastudio
        self._finder = LiveFinder(metastudio)
        self._store = store
        self._outlets = outlets
        self.replica = replica
        self._grant = Grant(WATCH_APP_USER)
        self._state: WatchState | None = None  # the newest this replica knows
        self._unbroken = False  # the lease held since the state was last read or written
        self._stored = ""  # the state's text as this replica last read or wrote it
        self._held_until = 0.0  # monotonic: when this replica's lease lapses
        self._turn = asyncio.Lock()  # one poll at a time (the loop, or the sandbox's poll_now)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: hold the lease (or wait for it) every ``clock.lease_renew``
        seconds and poll every ``rules.every`` seconds while it is ours. Never raises: a poll
        that fails is counted and logged, and the loop goes on. The lease is given back on the
        way out, so another replica takes over at once."""
        next_poll = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                try:
                    if now >= next_poll:
                        next_poll = now + self.rules.every
                        await self.poll_now()
                    else:
                        await self._hold()
                except Exception:  # the loop must outlive any one poll's bug
                    log.exception("stream watch: the poll failed")
                wait = min(self.clock.lease_renew, max(next_poll - time.monotonic(), 0.0))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            if self._held_until:
                with contextlib.suppress(StoreUnavailable):
                    await self._store.release(LEASE_KEY, self.replica)

    async def poll_now(self) -> PollResult:
        """One poll, if this replica holds the lease ("standby" if another does)."""
        async with self._turn:
            held = await self._hold()
            result: PollResult = await self._poll() if held == "ok" else held
            STREAM_WATCH_POLLS.labels(result).inc()
            return result

    async def _hold(self) -> Literal["ok", "standby", "store_unavailable"]:
        """Take or renew the lease: "ok" when this replica holds it. A gap (or a first take)
        keeps the state in memory but has it checked against the store's before it is used or
        saved (:meth:`_recall`): whoever held the lease meanwhile may have moved it on."""
        started = time.monotonic()
        try:
            holder = await self._store.hold(LEASE_KEY, self.replica, self.clock.lease_ttl)
        except StoreUnavailable as exc:  # not knowing whether it is ours, do not poll
            log.warning("stream watch: could not hold the lease: %s", exc)
            self._held_until, self._unbroken = 0.0, False
            return "store_unavailable"
        if holder is not None:
            if self._held_until:
                log.info("stream watch: another replica watches now (%s)", holder)
            self._held_until, self._unbroken = 0.0, False
            return "standby"
        if started > self._held_until:
            if not self._held_until:
                log.info("stream watch: this replica watches streams (%s)", self.replica)
            self._unbroken = False
        self._held_until = started + self.clock.lease_ttl
        return "ok"

    async def _recall(self) -> WatchState:
        """The state a poll starts from: the one in memory while the lease held unbroken.
        After a gap, the store's, unless the store still holds what this replica last read or
        wrote: then nobody moved it on, and memory is newer (a note told whose save failed in a
        short store outage would otherwise be told again)."""
        if self._state is not None and self._unbroken:
            return self._state
        text = await self._store.get_note(STATE_KEY) or ""
        if self._state is None or text != self._stored:
            state = WatchState.load(text) if text else None
            if text and state is None:
                log.warning("stream watch: the remembered state is unreadable; learning afresh")
            self._state, self._stored = state or WatchState(), text
        self._unbroken = True
        return self._state

    async def _poll(self) -> PollResult:
        now = time.time()
        try:
            state = await self._recall()
        except StoreUnavailable as exc:
            log.warning("stream watch: could not read what was announced: %s", exc)
            return "store_unavailable"
        notes: list[Note] = []
        work = copy.deepcopy(state)  # kept only if the poll worked
        deadline = asyncio.get_running_loop().time() + self.clock.poll
        try:
            async with asyncio.timeout_at(deadline):
                await self._look(work, now, notes, deadline)
        except Exception as exc:  # every failure is a failed poll: the loop must go on
            if not isinstance(exc, (*CALL_FAILURES, StoreUnavailable)):
                log.error("stream watch: unexpected failure", exc_info=exc)
            result: PollResult = "failed"
            notes = self._failed(state, exc, now)
        else:
            result, state = "ok", work
        for note in notes:  # each begun only if its whole timeout fits in the lease's margin
            left = self._held_until - time.monotonic() - self.clock.margin
            posted = left >= self.clock.note and await self._post(note.kind, note.reply)
            if not posted and note.unposted is not None:
                note.unposted()  # not told: told again next poll
        self._state = state
        await self._save(state, now, result)
        return result

    async def _look(
        self, state: WatchState, now: float, notes: list[Note], deadline: float
    ) -> None:
        """Read what is live; compare; add the notes that are news to ``notes``."""
        # the list gets most of the poll's budget: what it read by then is kept (a room not
        # read in time is not "ended"), and the rest, to ``deadline``, is for the jobs gone
        listed_by = asyncio.get_running_loop().time() + self.clock.listing
        found = await self._finder.everything(self._grant, min(listed_by, deadline))
        seen: dict[str, SmartLiveJob] = {}
        unread: set[str] = set()
        for room in found.rooms:
            if room.failure is not None:
                unread.add(room.room.room_id)
            seen.update((job.job_id, job) for job in room.jobs if job.is_live)
        if state.told_down:
            again = stream_notes.watching_again(state.failing_since, now)
            # not posted: the outage is still "told down", and the next poll says it is over
            told = (state.failing_since, state.why)
            untold = functools.partial(_still_told_down, state, *told)
            notes.append(Note("watching_again", again, untold))
        state.failures, state.failing_since, state.told_down, state.why = 0, 0.0, False, ""
        whole = found.listing is None
        gone = [
            job_id
            for job_id, watched in state.live.items()
            if whole and job_id not in seen and watched.room_id not in unread
        ]
        if gone:
            await self._settle_gone(state, gone, now, notes, deadline)
        for job_id, job in seen.items():
            watched = state.live.get(job_id)
            if watched is None:
                started = job.started_at
                since = started.timestamp() if started else now
                watched = state.live[job_id] = Watched(
                    job.room_id or "", job.room_name or "", since
                )
                if state.learned and self.rules.starts:  # not in the last whole list
                    untold = functools.partial(_new_again, state, job_id)
                    notes.append(Note("started", stream_notes.went_live(job), untold))
            watched.room_name = job.room_name or watched.room_name
            hours = self.rules.long_live_hours
            if hours and not watched.long_told and now - watched.since >= hours * 3600:
                watched.long_told = True
                untold = functools.partial(setattr, watched, "long_told", False)
                reply = stream_notes.long_live(job, hours, now - watched.since)
                notes.append(Note("long_live", reply, untold))
        # a list not read whole (or a room not read) may have missed jobs live long before:
        # they are learnt, not "went live", until a list is read whole
        state.learned = state.learned or (whole and not unread)

    async def _settle_gone(
        self, state: WatchState, gone: list[str], now: float, notes: list[Note], deadline: float
    ) -> None:
        """The jobs no longer listed: forgotten silently if stoplive stopped them, else read
        and told by how they ended; kept watching while their end is not known (a read not
        back by ``deadline``, a stop of theirs still in flight, a state stoplive does not
        know)."""
        entries = await self._store.recent(now - JOURNAL_WINDOW)
        stopped = {e.job_id for e in entries if e.outcome in ENDED_TOLD}
        in_flight = {e.job_id for e in entries if not e.outcome} - stopped
        in_doubt = {e.job_id for e in entries} - stopped
        for job_id in gone:
            if job_id in stopped:
                del state.live[job_id]
        unasked = [j for j in gone if j not in stopped and j not in in_flight][:GONE_READS]
        for job_id in unasked:  # tried now: the others first next time, whatever comes back
            state.live[job_id] = state.live.pop(job_id)  # (a cap that read the same failing
        reads = await self._read_all(state, unasked, deadline)  # 30 each poll starved the rest)
        for job_id, read in reads.items():
            watched = state.live[job_id]
            if isinstance(read, SmartLiveJob):
                if not read.has_ended:  # still live (the list lags), or a state not known
                    continue
                kind = (read.known_state.value if read.known_state else "").lower()
                loud = kind in ("failed", "blocked")
                untold = functools.partial(state.live.__setitem__, job_id, watched)
                if loud or self.rules.ends == "all" or job_id in in_doubt:
                    reply = stream_notes.ended(read)
                    notes.append(Note(kind if loud else "ended", reply, untold))
            elif isinstance(read, MetaStudioError) and read.status == 404:
                # a TEMP room is deleted with its job: 404 is how many ends read
                if self.rules.ends == "all" or job_id in in_doubt:
                    reply = stream_notes.vanished(watched.room_id, job_id, watched.room_name)
                    untold = functools.partial(state.live.__setitem__, job_id, watched)
                    notes.append(Note("vanished", reply, untold))
            else:  # not read this time: asked again next poll
                log.warning("stream watch: could not read job %s: %s", job_id, read)
                continue
            del state.live[job_id]

    async def _read_all(
        self, state: WatchState, job_ids: list[str], deadline: float
    ) -> dict[str, SmartLiveJob | BaseException]:
        """Each job read, or why not; those not back by ``deadline`` are left out (read next
        poll): one slow read must not cost the poll every read that came back in time."""
        if not job_ids:
            return {}
        tasks = {j: asyncio.ensure_future(self._read(state.live[j], j)) for j in job_ids}
        left = deadline - asyncio.get_running_loop().time() - 0.2  # inside the poll's timeout
        try:
            await asyncio.wait(tasks.values(), timeout=max(left, 0.0))
        finally:
            for task in tasks.values():
                task.cancel()  # those not back: read next poll
        late = [job_id for job_id, task in tasks.items() if not task.done() or task.cancelled()]
        if late:
            log.warning("stream watch: %d jobs gone were not read in time", len(late))
        return {
            job_id: task.exception() or task.result()
            for job_id, task in tasks.items()
            if job_id not in late
        }

    async def _read(self, watched: Watched, job_id: str) -> SmartLiveJob:
        job = await self._metastudio.get_job(watched.room_id, job_id, WATCH_APP_USER)
        if not job.room_name:
            job = job.model_copy(update={"room_name": watched.room_name or None})
        return job

    def _failed(self, state: WatchState, exc: Exception, now: float) -> list[Note]:
        """Counted; the channel is told once, on the :data:`FAILURES_TOLD`-th in a row."""
        if isinstance(exc, StoreUnavailable):
            why = "the state store did not answer"
        elif isinstance(exc, CALL_FAILURES):
            why = describe(exc)
        else:
            why = f"an unexpected {type(exc).__name__}"
        log.warning("stream watch: poll failed: %s", why)
        state.failures += 1
        state.failing_since = state.failing_since or now
        state.why = why
        if state.failures < FAILURES_TOLD or state.told_down:
            return []
        state.told_down = True
        untold = functools.partial(setattr, state, "told_down", False)
        return [Note("cannot_watch", stream_notes.cannot_watch(why, state.failing_since), untold)]

    async def _post(self, kind: str, reply: Reply) -> bool:
        """Whether the channel took the note within ``clock.note`` seconds (slack_sdk's
        retries spent, else). One not answered in time counts as not taken: told again next
        poll, since a repeat is better than an error nobody hears of."""
        outlet = self._outlets(self.rules.channel_id, "", "")
        try:
            async with asyncio.timeout(self.clock.note):
                posted = await outlet.announce(reply, final=False, fallback_url="")
        except TimeoutError:
            posted = ""
        if not posted:
            log.error("stream watch: the %s note did not reach the notify channel", kind)
        STREAM_NOTES.labels(kind, "posted" if posted else "unposted").inc()
        return bool(posted)

    async def _save(self, state: WatchState, now: float, result: PollResult) -> None:
        """The state if it changed, and the last poll's summary (one write each). The state only
        while the lease still holds, renewed first without a gap: a replica that lost it must
        not write its older state over the new holder's (kept in memory, :meth:`_recall`)."""
        text = state.dump()
        status = {
            "at": now,
            "result": result,
            "live": len(state.live),
            "failing_since": state.failing_since,
            "why": state.why,
        }
        try:
            if text != self._stored:
                if await self._hold() != "ok" or not self._unbroken:
                    log.warning("stream watch: the lease lapsed; this poll is saved later")
                    return
                await self._store.put_note(STATE_KEY, text, KEEP_FOR)
                self._stored = text
            await self._store.put_note(STATUS_KEY, json.dumps(status), KEEP_FOR)
        except StoreUnavailable as exc:  # written next poll: the state in memory is newer
            log.warning("stream watch: could not remember this poll: %s", exc)


async def read_status(store: StateStore) -> dict[str, Any] | None:
    """The last poll's summary, from whichever replica made it; None if none (or unreadable)."""
    try:
        text = await asyncio.wait_for(store.get_note(STATUS_KEY), timeout=2.0)
        status = json.loads(text) if text else None
    except (StoreUnavailable, TimeoutError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def _still_told_down(state: WatchState, failing_since: float, why: str) -> None:
    """The outage's end was not told: it stays told as begun, so the next poll tells its end."""
    state.told_down, state.failing_since, state.why = True, failing_since, why


def _new_again(state: WatchState, job_id: str) -> None:
    """Its start was not told: forgotten, so the next poll finds it new and tells it."""
    state.live.pop(job_id, None)
