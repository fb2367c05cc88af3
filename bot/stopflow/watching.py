"""The stream watch: the poller that tells the notify channel about streams nobody asked about
(one ended with an error or was blocked, one live for hours, one going live), one watcher per
store.

One poll lists the live jobs (:class:`~bot.stopflow.finding.LiveFinder`: the tenant list, or
room by room), compares them with what the watch remembers, reads the final state of each job
that is no longer listed, and posts what is news. Why each rule:

- **One watcher.** Replicas sharing a store each run this loop, but only the holder of a lease
  in the store (:data:`LEASE_KEY`, :data:`LEASE_TTL` s, renewed every :data:`LEASE_RENEW` s,
  whatever the poll interval) polls: a dead holder is replaced within a minute, and no note is
  posted twice. A poll is bounded by :data:`POLL_BUDGET`, less than what is left of a lease just
  renewed, so a slow poll never outlives the lease that allowed it.
- **Nothing repeated.** What is live and what was announced is one note in the store
  (:data:`STATE_KEY`), rewritten only when it changed and read again whenever the lease was not
  held without a gap (another replica, or this one before a restart, may have moved it on). The
  first poll with nothing remembered learns silently; after a restart, what changed meanwhile
  is news (an end while stoplive was down was never told).
- **Only what is known.** A job missing from a list that was not read whole, or from a room
  that could not be read, is not "ended"; a job no longer listed is read before anything is
  said, and one in a state stoplive does not know is kept watching, never called ended. A job
  stoplive itself was asked to stop (its journal) is not told again: its outcome already was.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.metastudio import CALL_FAILURES, MetaStudioClient, MetaStudioError, SmartLiveJob, describe
from bot.metrics import STREAM_NOTES, STREAM_WATCH_POLLS
from bot.stopflow.allowlist import Grant
from bot.stopflow.finding import LiveFinder
from bot.stopflow.outcome import Verdict
from bot.stopflow.outlet import OutletFactory
from bot.stopflow.store import StateStore, StoreUnavailable
from bot.stopflow.words import stream_notes
from bot.stopflow.words.markup import Reply

log = logging.getLogger(__name__)

LEASE_KEY = "stream-watch:lease"
STATE_KEY = "stream-watch:state"  # what is live, what was announced, the outage count
STATUS_KEY = "stream-watch:status"  # the last poll, for the App Home of any replica
LEASE_TTL = 45.0  # a dead watcher is replaced within LEASE_TTL + LEASE_RENEW: one minute
LEASE_RENEW = 15.0
POLL_BUDGET = 25.0  # under LEASE_TTL - LEASE_RENEW: a poll ends while its lease still holds
LIST_BUDGET = 18.0  # of it, for the list: 500 live rooms read room by room take 9.4 s
KEEP_FOR = 7 * 86400.0  # how long the state outlives the last watcher
FAILURES_TOLD = 3  # failed polls in a row before the channel is told
JOURNAL_WINDOW = 86400.0  # the journal keeps a day: the stops looked up for jobs gone
# The MetaStudio user the watch reads as (X-App-UserId): it stops nothing, and MetaStudio's
# records then say which reads were the watch's.
WATCH_APP_USER = "stoplive-notify"
# Journal outcomes after which the channel already knows the job ended ("" : a stop still in
# flight, whose outcome will say). After any other (still live, refused, unknown…) the channel's
# last word left the job live or in doubt: its end is news, told even when ordinary ends are not.
ENDED_TOLD = frozenset({Verdict.STOPPED, Verdict.ENDED, ""})


@dataclass(frozen=True)
class NotifyRules:
    """What the watch tells, and where (the settings' ``STOPLIVE_NOTIFY_*``)."""

    channel_id: str
    every: float = 60.0
    ends: Literal["errors", "all"] = "errors"
    long_live_hours: float | None = None
    starts: bool = False


@dataclass
class Watched:
    """One job the watch has seen live."""

    room_id: str
    room_name: str
    since: float  # MetaStudio's start_time, else when the watch first saw it (epoch s)
    long_told: bool = False


@dataclass
class WatchState:
    """What the watch remembers across polls, replicas and restarts (:data:`STATE_KEY`)."""

    live: dict[str, Watched] = field(default_factory=dict)
    learned: bool = False  # a list was read once: later changes are news
    failures: int = 0  # failed polls in a row
    failing_since: float = 0.0
    told_down: bool = False
    why: str = ""

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> WatchState | None:
        """None if the note is not one this version wrote (then the watch learns afresh)."""
        try:
            raw = json.loads(text)
            live = {str(k): Watched(**v) for k, v in raw.pop("live").items()}
            return cls(live=live, **raw)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


@dataclass(frozen=True)
class Note:
    """A note to post; ``unposted`` puts back what made it news if the channel does not take
    it, so the next poll tells it again rather than never."""

    kind: str  # the metric's label
    reply: Reply
    unposted: Callable[[], None] | None = None


PollResult = Literal["ok", "failed", "standby", "store_unavailable"]


class StreamWatch:
    def __init__(
        self,
        rules: NotifyRules,
        metastudio: MetaStudioClient,
        store: StateStore,
        outlets: OutletFactory,
        replica: str,
    ) -> None:
        self.rules = rules
        self._metastudio = metastudio
        self._finder = LiveFinder(metastudio)
        self._store = store
        self._outlets = outlets
        self.replica = replica
        self._grant = Grant(WATCH_APP_USER)
        self._state: WatchState | None = None  # kept only while the lease is held unbroken
        self._stored = ""  # the state's text as the store holds it
        self._held_until = 0.0  # monotonic: when this replica's lease lapses
        self._turn = asyncio.Lock()  # one poll at a time (the loop, or the sandbox's poll_now)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: hold the lease (or wait for it) every :data:`LEASE_RENEW`
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
                wait = min(LEASE_RENEW, max(next_poll - time.monotonic(), 0.0))
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
        forgets the state kept in memory: whoever held the lease meanwhile moved it on."""
        started = time.monotonic()
        try:
            holder = await self._store.hold(LEASE_KEY, self.replica, LEASE_TTL)
        except StoreUnavailable as exc:  # not knowing whether it is ours, do not poll
            log.warning("stream watch: could not hold the lease: %s", exc)
            self._held_until, self._state = 0.0, None
            return "store_unavailable"
        if holder is not None:
            if self._held_until:
                log.info("stream watch: another replica watches now (%s)", holder)
            self._held_until, self._state = 0.0, None
            return "standby"
        if started > self._held_until:
            if not self._held_until:
                log.info("stream watch: this replica watches streams (%s)", self.replica)
            self._state = None
        self._held_until = started + LEASE_TTL
        return "ok"

    async def _poll(self) -> PollResult:
        now = time.time()
        try:
            state = self._state or await self._load()
        except StoreUnavailable as exc:
            log.warning("stream watch: could not read what was announced: %s", exc)
            return "store_unavailable"
        notes: list[Note] = []
        work = copy.deepcopy(state)  # kept only if the whole poll worked
        try:
            async with asyncio.timeout(POLL_BUDGET):
                await self._look(work, now, notes)
        except Exception as exc:  # every failure is a failed poll: the loop must go on
            if not isinstance(exc, (*CALL_FAILURES, StoreUnavailable)):
                log.error("stream watch: unexpected failure", exc_info=exc)
            result: PollResult = "failed"
            notes = self._failed(state, exc, now)
        else:
            result, state = "ok", work
        for note in notes:
            if not await self._post(note.kind, note.reply) and note.unposted is not None:
                note.unposted()  # not told: told again next poll
        self._state = state
        await self._save(state, now, result)
        return result

    async def _look(self, state: WatchState, now: float, notes: list[Note]) -> None:
        """Read what is live; compare; add the notes that are news to ``notes``."""
        # the list gets most of the poll's budget: what it read by then is kept (a room not
        # read in time is not "ended"), and the rest is for the reads of the jobs gone
        deadline = asyncio.get_running_loop().time() + LIST_BUDGET
        found = await self._finder.everything(self._grant, deadline)
        seen: dict[str, SmartLiveJob] = {}
        unread: set[str] = set()
        for room in found.rooms:
            if room.failure is not None:
                unread.add(room.room.room_id)
            seen.update((job.job_id, job) for job in room.jobs if job.is_live)
        if state.told_down:
            notes.append(
                Note("watching_again", stream_notes.watching_again(state.failing_since, now))
            )
        state.failures, state.failing_since, state.told_down, state.why = 0, 0.0, False, ""
        whole = found.listing is None
        gone = [
            job_id
            for job_id, watched in state.live.items()
            if whole and job_id not in seen and watched.room_id not in unread
        ]
        if gone:
            await self._settle_gone(state, gone, now, notes)
        for job_id, job in seen.items():
            watched = state.live.get(job_id)
            if watched is None:
                started = job.started_at
                since = started.timestamp() if started else now
                watched = state.live[job_id] = Watched(
                    job.room_id or "", job.room_name or "", since
                )
                if state.learned and self.rules.starts:
                    notes.append(Note("started", stream_notes.went_live(job)))
            watched.room_name = job.room_name or watched.room_name
            hours = self.rules.long_live_hours
            if hours and not watched.long_told and now - watched.since >= hours * 3600:
                watched.long_told = True
                untold = functools.partial(setattr, watched, "long_told", False)
                reply = stream_notes.long_live(job, hours, now - watched.since)
                notes.append(Note("long_live", reply, untold))
        state.learned = True

    async def _settle_gone(
        self, state: WatchState, gone: list[str], now: float, notes: list[Note]
    ) -> None:
        """The jobs no longer listed: forgotten silently if stoplive stopped them, else read
        and told by how they ended; kept watching while their end is not known."""
        entries = await self._store.recent(now - JOURNAL_WINDOW)
        stopped = {e.job_id for e in entries if e.outcome in ENDED_TOLD}
        in_doubt = {e.job_id for e in entries} - stopped
        unasked = [job_id for job_id in gone if job_id not in stopped]
        for job_id in gone:
            if job_id in stopped:
                del state.live[job_id]
        reads = await asyncio.gather(
            *(self._read(state.live[job_id], job_id) for job_id in unasked),
            return_exceptions=True,
        )
        for job_id, read in zip(unasked, reads, strict=True):
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
                if self.rules.ends == "all":
                    reply = stream_notes.vanished(watched.room_id, job_id, watched.room_name)
                    untold = functools.partial(state.live.__setitem__, job_id, watched)
                    notes.append(Note("vanished", reply, untold))
            else:  # not read this time: asked again next poll
                log.warning("stream watch: could not read job %s: %s", job_id, read)
                continue
            del state.live[job_id]

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
        """Whether the channel took the note (slack_sdk's retries spent, else)."""
        outlet = self._outlets(self.rules.channel_id, "", "")
        posted = await outlet.announce(reply, final=False, fallback_url="")
        if not posted:
            log.error("stream watch: the %s note did not reach the notify channel", kind)
        STREAM_NOTES.labels(kind, "posted" if posted else "unposted").inc()
        return bool(posted)

    async def _load(self) -> WatchState:
        text = await self._store.get_note(STATE_KEY)
        state = WatchState.load(text) if text else None
        if text and state is None:
            log.warning("stream watch: the remembered state is unreadable; learning afresh")
        self._stored = text or ""
        return state or WatchState()

    async def _save(self, state: WatchState, now: float, result: PollResult) -> None:
        """The state if it changed, and the last poll's summary (one write each)."""
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
