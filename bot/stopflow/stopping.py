"""The stop supervisor: one confirmed stop, from its claims to its one truthful outcome.

A live click and a take-over both end here, in :meth:`StopSupervisor._conclude`: the audit line
is written as soon as the outcome is known (before, and whatever happens to, Slack delivery),
then the channel is told once (revising the progress message when it can), then the requester,
then the journal entry is closed. Whatever goes wrong on the way (a deadline, a MetaStudio
answer that cannot be read, IAM, a bug, a shutdown) becomes an outcome, never silence.

Fail closed: no stop is sent unless the confirmation and the job were claimed and the stop was
written in the journal. Notes to people (the "Stopping…" line, progress) never decide whether
the stop happens: their failures are logged and forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot.metastudio import (
    CALL_FAILURES,
    IamError,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
    describe,
)
from bot.metastudio.ids import InvalidId
from bot.metrics import CLAIM_CONFLICTS, CLICK_TO_ANNOUNCE_SECONDS, STOPS, STORE_ERRORS, TAKEOVERS
from bot.stopflow.gate import AdmittedClick
from bot.stopflow.journal import (
    DELIVERY_SECONDS,
    LEASE,
    StopJournal,
    job_claim,
    ticket_of,
)
from bot.stopflow.outcome import Outcome, StopAnswer, Verdict
from bot.stopflow.outlet import Outlet
from bot.stopflow.progress import Progress, is_loud, outcome_detail
from bot.stopflow.store import (
    JournalEntry,
    StoreRefusesWrites,
    StoreUnavailable,
)
from bot.stopflow.tickets import Ticket
from bot.stopflow.words import notices, to_channel, to_requester

log = logging.getLogger(__name__)

READ_SECONDS = 10.0  # one read of the job while watching, at most
MIN_READ_SECONDS = 2.0  # ... and at least
PROGRESS_EVERY = 30.0  # how often the channel hears "still checking" during a long watch
SHUTDOWN_NOTE_SECONDS = 3.0  # what a cancelled stop may spend telling the channel


@dataclass(frozen=True)
class NotRun:
    """Why a confirmed stop was not run (its requester has been told): the audit word, and who
    holds the job when another stop of it is in flight."""

    why: str
    holder: str = ""


async def deliver(call: Awaitable[Any], within: float) -> Any:
    """A delivery to Slack, bounded by ``within`` seconds and never raising: Slack's errors,
    the network's and timeouts are logged, and the stop (or the batch) goes on without it."""
    try:
        async with asyncio.timeout(within):
            return await call
    except Exception:
        log.exception("a Slack delivery failed")
        return None


class StopSupervisor(StopJournal):
    """Runs each confirmed stop (a click's, or one taken over) to its one outcome; its parts,
    and a stop's claims and journal entry, are :class:`StopJournal`'s."""

    # --- a live click -------------------------------------------------------------------

    async def run(
        self, admitted: AdmittedClick, outlet: Outlet, started: float
    ) -> Outcome | NotRun:
        """Claim the confirmation and the job, journal the stop (one store call), send it,
        watch it, tell. The outcome, or why the stop was not run (a ``/stoplive all`` tallies
        them)."""
        ticket, grant = admitted.ticket, admitted.grant
        job_key, job_holder = job_claim(ticket)
        claims = self._claims(ticket)
        entry = JournalEntry(
            stop_id=ticket.id,
            room_id=ticket.room_id,
            job_id=ticket.job_id,
            requester=ticket.requester,
            channel_id=ticket.channel_id,
            app_user_id=grant.app_user_id,
            response_url=ticket.response_url,
            created_at=time.time(),
            step="sent",
            room_name=ticket.room_name,
        )
        try:
            taken = await self._store.begin(entry, self.replica, LEASE, claims)
        except StoreUnavailable as exc:
            # Nothing is released: whether the store took the claims before it failed is
            # unknown, and a claim held a few minutes too long is safer than a second stop.
            await self._fail_closed("begin", ticket, grant.app_user_id, outlet, started, exc)
            return NotRun("refused_store_unavailable")
        if taken is None:
            self._running.add(ticket.id)
            progress = Progress(
                entry, ticket, started, approved_by=admitted.approved_by, batch=admitted.batch
            )
            try:
                return await self._supervise(
                    progress, outlet, self._stop_and_watch(progress, outlet)
                )
            finally:
                self._running.discard(ticket.id)
                if not progress.released:  # no finish (lease lost, store down): on its own
                    await self._quietly("release", self._store.release(job_key, job_holder))
        if taken.key != job_key:  # the ticket's claim, or its journal entry: it was used
            CLAIM_CONFLICTS.labels("ticket").inc()
            await self._note(outlet.to_clicker(notices.already_used()))
            self._record("confirm", ticket, "ignored_already_used", grant.app_user_id, started)
            return NotRun("ignored_already_used")
        CLAIM_CONFLICTS.labels("job").inc()
        holder = taken.holder.split("/", 1)[0]
        await self._note(outlet.to_clicker(notices.already_stopping(ticket, holder)))
        self._record(
            "confirm",
            ticket,
            "refused_in_flight",
            grant.app_user_id,
            started,
            detail=f"already being stopped by {holder}",
            batch=admitted.batch,
        )
        return NotRun("refused_in_flight", holder)

    async def _supervise(
        self, progress: Progress, outlet: Outlet, work: Coroutine[Any, Any, Outcome]
    ) -> Outcome:
        """Run ``work`` (a stop, or a take-over's watch) under the deadline, renewing the
        journal lease, and turn whatever happens into one outcome."""
        renewing = asyncio.create_task(self._renew(progress))
        try:
            try:
                async with asyncio.timeout(self.deadline):
                    outcome = await work
            except TimeoutError:
                outcome = progress.undecided(f"no outcome within {self.deadline:.0f} s")
            except Exception as exc:  # a bug must still end in an outcome, and be logged
                log.exception("stop %s failed unexpectedly", progress.ticket.id)
                outcome = progress.undecided(f"unexpected {type(exc).__name__}")
        except asyncio.CancelledError:
            # shutting down: the drain is over; say what is known, briefly, then go
            await self._conclude(progress, self._cut_short(progress), outlet, SHUTDOWN_NOTE_SECONDS)
            raise
        finally:
            renewing.cancel()
        await self._conclude(progress, outcome, outlet, DELIVERY_SECONDS)
        return outcome

    def _cut_short(self, progress: Progress) -> Outcome:
        if progress.job is not None and progress.job.has_ended:
            return progress.outcome(Verdict.STOPPED)
        if not progress.sent:  # cancelled before the call: nothing was sent
            return progress.outcome(Verdict.NOT_SENT)
        return progress.outcome(Verdict.SHUT_DOWN)

    async def _stop_and_watch(self, progress: Progress, outlet: Outlet) -> Outcome:
        ticket = progress.ticket
        # beside the stop call, not before it: a slow or failing note must not delay the stop
        progress.note = asyncio.create_task(
            self._note(outlet.to_requester(to_requester.stopping(ticket)))
        )
        progress.sent = True
        try:
            # bounded on its own, so that a take-over knows when it can no longer be in flight
            async with asyncio.timeout(self._stop_call_allowance):
                accepted = await self._metastudio.stop_job(
                    ticket.room_id, ticket.job_id, progress.entry.app_user_id
                )
        except TimeoutError:
            log.warning(
                "stop %s/%s: no answer within %.0f s; reading the job",
                ticket.room_id,
                ticket.job_id,
                self._stop_call_allowance,
            )
            progress.answer = StopAnswer.NONE
        except MetaStudioError as exc:  # a no, and the client read the job live
            progress.answer, progress.request_id = StopAnswer.ANSWERED, exc.request_id
            return progress.outcome(Verdict.REFUSED, error=exc)
        except IamError as exc:
            return progress.outcome(Verdict.IAM_FAILED, iam_error=exc, problem=str(exc))
        except (OutcomeUnknown, Unreachable) as exc:
            if isinstance(exc, OutcomeUnknown) and exc.refused:
                return progress.after_refusal(exc)
            log.warning("stop %s/%s: %s; reading the job", ticket.room_id, ticket.job_id, exc)
            unclear = exc.answer if isinstance(exc, OutcomeUnknown) else None
            if unclear is not None:  # an answer that says neither yes nor no
                progress.answer, progress.unclear = StopAnswer.UNCLEAR, unclear
                progress.request_id = unclear.request_id
            else:
                progress.answer = StopAnswer.NONE
        except UnreadableAnswer as exc:  # a 2xx we cannot read: the job will tell
            progress.answer, progress.request_id = StopAnswer.ANSWERED, exc.request_id
            progress.problem, progress.unreadable = describe(exc), True
        else:
            progress.answer, progress.request_id = StopAnswer.ANSWERED, accepted.request_id
        reply = to_channel.stop_sent(ticket, progress.answer)
        # The journal learns the stop's answer while the channel hears of it: neither waits
        # for the other (a take-over reads the job either way).
        ts, _ = await asyncio.gather(
            deliver(
                outlet.announce(reply, final=False, fallback_url=ticket.response_url),
                DELIVERY_SECONDS,
            ),
            self._journal(progress, step=progress.answer.value, request_id=progress.request_id),
        )
        CLICK_TO_ANNOUNCE_SECONDS.observe(time.monotonic() - progress.started)
        if ts:
            await self._journal(progress, channel_ts=ts)
        progress.watch_started = time.monotonic()
        return await self._watch(progress, outlet, progress.watch_started + self.watch_for)

    async def _watch(self, progress: Progress, outlet: Outlet, until: float) -> Outcome:
        """Read the job (backing off) until it has ended or the watch runs out (``until``,
        monotonic). When ``verify_for`` ends with the job not seen ended, the thread hears it
        at once (a reply broadcast to the channel: a revision notifies nobody), and the channel
        message says the job is still being checked (revised every PROGRESS_EVERY seconds), so
        it never sits at "checking" unexplained."""
        started = progress.watch_started
        next_progress = started + self._policy.verify_for
        delay = 0.25
        while True:
            # a read gets a fair chance even at the end of the watch (a slow answer is still
            # the truth); the supervisor's deadline bounds the whole
            within = min(max(until - time.monotonic(), MIN_READ_SECONDS), READ_SECONDS)
            if await self._read(progress, within):
                return progress.outcome(Verdict.STOPPED)
            now = time.monotonic()
            if now + delay > until:
                break
            if now >= next_progress:
                next_progress = now + PROGRESS_EVERY
                fallback = progress.ticket.response_url
                if progress.told is None:  # the first window is over: say it loud, once
                    so_far = progress.undecided("")
                    progress.told = so_far.verdict
                    loud = to_channel.still_watching(so_far, now - started, until - now)
                    await self._note(outlet.reply_in_thread(loud))
                note = to_channel.still_checking(progress.ticket, progress.job, now - started)
                await self._note(outlet.announce(note, final=False, fallback_url=fallback))
            await asyncio.sleep(delay)
            delay = min(delay * 1.6, 5.0)
        return progress.undecided("the job could not be read")

    async def _read(self, progress: Progress, within: float) -> bool:
        """One read of the job; True once it has ended. Failures are noted, not raised."""
        t = progress.ticket
        try:
            async with asyncio.timeout(within):  # in this task: wait_for would start another
                job = await self._metastudio.get_job(
                    t.room_id, t.job_id, progress.entry.app_user_id
                )
        except CALL_FAILURES as exc:  # noted, and the watch goes on
            progress.problem = describe(exc)
            progress.unreadable = isinstance(exc, UnreadableAnswer | InvalidId)
            return False
        progress.job, progress.problem, progress.unreadable = job, "", False
        return job.has_ended

    # --- a take-over --------------------------------------------------------------------

    async def take_over(self, entry: JournalEntry) -> bool:
        """Finish a stop whose owner is gone: never send a stop, watch the job until the
        original's watch would have ended, tell the truth (revising the original channel
        message when the journal has it), audit ``recovered_by``, then give the job back once
        the original stop call is over (see :meth:`release_due`). False, doing nothing, for a
        stop this process is running itself: its lease lapsed while the store refused writes,
        and it is still watching."""
        if entry.stop_id in self._running:
            log.warning("stop %s is running here; not taken over", entry.stop_id)
            return False
        TAKEOVERS.inc()
        log.warning("taking over stop %s from %s", entry.stop_id, entry.recovered_from or "?")
        ticket = ticket_of(entry)
        answer = StopAnswer.from_step(entry.step)
        progress = Progress(
            entry,
            ticket,
            time.monotonic(),
            sent=True,
            answer=answer,
            request_id=entry.request_id,
            recovered_by=self.replica,
        )
        taken_at = time.monotonic()
        outlet = self._outlets(entry.channel_id, entry.response_url, entry.channel_ts)
        # "waited" counts from the click; the watch ends when the original's would have
        progress.watch_started = time.monotonic() - max(time.time() - entry.created_at, 0.0)
        until = progress.watch_started + self.deadline
        self._running.add(entry.stop_id)
        try:
            await self._supervise(progress, outlet, self._watch(progress, outlet, until))
        finally:
            self._running.discard(entry.stop_id)
        # A lapsed lease says the owner stopped renewing, not that it is gone (a partition, a
        # stalled process): unless its journal says the stop call came back, that call may
        # still be on its way. It began just after the owner's first lease write, and lasts
        # at most the allowance; the lease lapsed (on the store's clock) at least LEASE after
        # that write: so it is over by the allowance after the take-over, on this replica's
        # monotonic clock. No wall clock (the click's, by whichever host) decides it.
        returned = answer is not StopAnswer.UNKNOWN
        free_at = taken_at + (0.0 if returned else self._stop_call_allowance)
        self._releases.append((free_at, *job_claim(ticket)))
        await self.release_due()
        return True

    async def release_due(self) -> None:
        """Give back the job claims of stops taken over whose original stop call is over
        (each take-over sweep asks). A claim not given back expires on its own."""
        now = time.monotonic()
        due = [release for release in self._releases if release[0] <= now]
        self._releases = [release for release in self._releases if release[0] > now]
        for _, key, holder in due:
            await self._quietly("release", self._store.release(key, holder))

    # --- the end of every stop ----------------------------------------------------------

    async def _conclude(
        self, progress: Progress, outcome: Outcome, outlet: Outlet, within: float
    ) -> None:
        """Audit first, then the channel, the requester, the audit channel, the journal."""
        ticket = progress.ticket
        self._record(
            "outcome",
            ticket,
            outcome.verdict.value,
            outcome.app_user,
            progress.started,
            request_id=outcome.request_id,
            detail=outcome_detail(outcome),
            recovered_by=outcome.recovered_by,
            approved_by=progress.approved_by,
            batch=progress.batch,
        )
        STOPS.labels(outcome.verdict.value).inc()
        if progress.lease_lost:  # another replica took the stop over and tells the channel
            return
        reply = to_channel.announcement(outcome, **self._policy.buttons.for_outcome(outcome))
        loop = asyncio.get_running_loop()
        until = loop.time() + within

        def left() -> float:
            return max(until - loop.time(), 0.5)

        ts = await deliver(
            outlet.announce(reply, final=True, fallback_url=ticket.response_url), within
        )
        if ts and is_loud(outcome, progress):  # a revision notifies nobody; a reply does
            thread = to_channel.thread_reply(outcome, progress.told)
            await deliver(outlet.reply_in_thread(thread), left())
        if progress.note is not None:  # so the outcome replaces "Stopping…", not the reverse
            await asyncio.wait([progress.note], timeout=left())
        # in the channel: the requester gets a note pointing there, not a second copy
        note = to_requester.result_posted(ticket.channel_id, outcome) if ts else reply
        await deliver(outlet.to_requester(note), left())
        audit_channel = self._policy.audit_channel
        if audit_channel and audit_channel != ticket.channel_id:
            link = await deliver(outlet.permalink(), left()) if ts else None
            copy = to_channel.audit_copy(reply, ticket.channel_id, link)
            await deliver(outlet.copy_to(audit_channel, copy), left())
        await self._quietly("finish", self._finish(progress, outcome))

    # --- plumbing -----------------------------------------------------------------------

    async def _fail_closed(
        self,
        operation: str,
        ticket: Ticket,
        app_user: str,
        outlet: Outlet,
        started: float,
        exc: StoreUnavailable,
    ) -> None:
        STORE_ERRORS.labels(operation).inc()
        log.error("state store unavailable (%s): %s; no stop sent", operation, exc)
        refusing = isinstance(exc, StoreRefusesWrites)
        await self._note(outlet.to_requester(notices.cannot_confirm_safely(refusing)))
        self._record(
            "confirm", ticket, "refused_store_unavailable", app_user, started, detail=str(exc)
        )

    async def _note(self, call: Awaitable[object]) -> None:
        """A note to a person: bounded, and its failure never decides anything."""
        await deliver(call, DELIVERY_SECONDS)

    def _record(
        self,
        event: str,
        ticket: Ticket,
        outcome: str,
        app_user: str | None,
        started: float,
        *,
        request_id: str | None = None,
        detail: str | None = None,
        recovered_by: str | None = None,
        approved_by: str | None = None,
        batch: str | None = None,
    ) -> None:
        self._audit.record(
            event,
            slack_user=ticket.requester,
            channel=ticket.channel_id,
            outcome=outcome,
            app_user=app_user,
            room=ticket.room_id,
            job=ticket.job_id,
            request_id=request_id,
            started=started,
            detail=detail,
            recovered_by=recovered_by,
            approved_by=approved_by,
            batch=batch,
        )
