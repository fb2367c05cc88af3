"""A confirmed ``/stoplive all``, run: each job its own stop, a few at a time, and one channel
message that fills in as their verdicts arrive.

There is one way to stop a job, :meth:`StopSupervisor.run`, and each job of the set goes
through it with a ticket of its own: its own claims (one stop in flight per job, across
replicas), journal entry, verification and audit line. Only where its words go differs: a
member speaks through a :class:`QuietOutlet`, and its verdict (``run``'s return) is counted in
the batch's one message instead of N messages. A member taken over by another replica after a
crash has no batch behind it any more, so it announces on its own, as any take-over does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.metastudio import CALL_FAILURES, describe
from bot.metastudio.models import SmartLiveJob
from bot.stopflow.allowlist import Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.buttons import JobRef
from bot.stopflow.desk import FIND_TIMEOUT, sort_found
from bot.stopflow.finding import LiveFinder
from bot.stopflow.gate import AdmittedClick
from bot.stopflow.outcome import Outcome, Verdict
from bot.stopflow.outlet import Outlet
from bot.stopflow.policy import Policy
from bot.stopflow.stopping import NotRun, StopSupervisor, deliver
from bot.stopflow.tickets import CONFIRM, Ticket
from bot.stopflow.words import all_streams, to_channel
from bot.stopflow.words.common import HEADS
from bot.stopflow.words.markup import Mrkdwn, Reply, mention, words

log = logging.getLogger(__name__)

# Stops in flight at once: each holds a MetaStudio call (the client allows a few in flight per
# host) and a watch that reads the job every few seconds; 8 stops 50 jobs in about 7 rounds of
# a stop's time while keeping MetaStudio's per-tenant rate limit and the client's pool in reach.
STOPS_IN_FLIGHT = 8
# chat.update at most this often (Slack allows about one message write a second per channel),
# plus the final one.
REVISE_EVERY = 1.0
SLACK_SECONDS = 10.0  # one delivery of the batch's words, retries included
SHUTDOWN_SECONDS = 3.0  # what a cancelled batch may spend saying what it knows

CATEGORY = {
    Verdict.STOPPED: all_streams.STOPPED,
    Verdict.ENDED: all_streams.STOPPED,
    Verdict.STILL_LIVE: all_streams.LIVE,
    Verdict.REFUSED: all_streams.REFUSED,
    Verdict.IAM_FAILED: all_streams.REFUSED,
    Verdict.NOT_SENT: all_streams.REFUSED,
}  # anything else is unknown: never counted as stopped


class QuietOutlet:
    """A batch member's outlet: its words go nowhere (the batch tells the channel once)."""

    async def to_requester(self, reply: Reply) -> None:
        return None

    async def to_clicker(self, reply: Reply) -> None:
        return None

    async def announce(self, reply: Reply, *, final: bool, fallback_url: str) -> str:
        return ""

    async def copy_to(self, channel_id: str, reply: Reply) -> None:
        return None

    async def reply_in_thread(self, reply: Reply) -> None:
        return None

    async def permalink(self) -> str | None:
        return None


@dataclass(frozen=True)
class Batch:
    """A confirmed set: the red button's ticket, the jobs it listed, who asked (as whom) and who
    approved, and what the list could not read (said to the end)."""

    ticket: Ticket
    members: tuple[all_streams.Member, ...]
    grant: Grant
    approver: str = ""
    incomplete: bool = False  # the list was not read whole: said to the end


@dataclass
class Result:
    category: str = all_streams.PENDING
    why: Mrkdwn | None = None


class BatchRunner:
    def __init__(
        self,
        policy: Policy,
        stops: StopSupervisor,
        finder: LiveFinder,
        audit: AuditLog,
    ) -> None:
        self._policy = policy
        self._stops = stops
        self._finder = finder
        self._audit = audit

    async def run(self, batch: Batch, outlet: Outlet) -> None:
        """Stop every member (at most :data:`STOPS_IN_FLIGHT` at once), revise the one
        channel message as verdicts arrive, then say the final tally, reply (broadcast) with
        what did not stop, and write the batch's audit line."""
        started = time.monotonic()
        results = [Result() for _ in batch.members]
        changed = asyncio.Event()
        fallback = batch.ticket.response_url

        def render(final: bool, **more: Any) -> Reply:
            return all_streams.progress(
                _tally(results),
                len(results),
                batch.ticket.requester,
                batch.approver,
                final=final,
                incomplete=batch.incomplete,
                **more,
            )

        await deliver(
            outlet.announce(render(False), final=False, fallback_url=fallback), SLACK_SECONDS
        )
        slots = asyncio.Semaphore(STOPS_IN_FLIGHT)
        began = [False] * len(results)  # whose stop started (its claims, its journal entry)

        async def one(index: int, member: all_streams.Member) -> None:
            async with slots:
                began[index] = True
                outcome = await self._one(batch, member)
            results[index] = _result(outcome)
            changed.set()

        reviser = asyncio.create_task(self._revise(outlet, lambda: render(False), changed))
        try:
            await asyncio.gather(*(one(i, m) for i, m in enumerate(batch.members)))
        except asyncio.CancelledError:  # shutting down: each stop audited its own; now the tally
            for result, start in zip(results, began, strict=True):
                if result.category != all_streams.PENDING:
                    continue
                if start:  # its stop may have been sent: unknown
                    result.category = all_streams.UNKNOWN
                    result.why = words("❓ stoplive shut down while it was being stopped")
                else:  # never sent (no claim, no journal entry): known still live
                    result.category = all_streams.REFUSED
                    result.why = words("🔴 not sent: stoplive shut down first")
            self._record(batch, results, started)
            await deliver(self._conclude(batch, outlet, render(True), results), SHUTDOWN_SECONDS)
            raise
        finally:
            reviser.cancel()
        self._record(batch, results, started)
        # the tally first; then what went live after the list (a read of up to FIND_TIMEOUT),
        # in one more revision only if there is something to say
        reply = render(True)
        ts = await self._conclude(batch, outlet, reply, results)
        later, problem = await self._live_now(batch)
        if later or problem:
            reply = render(True, later=later, later_problem=problem)
            await deliver(outlet.announce(reply, final=True, fallback_url=fallback), SLACK_SECONDS)
        await self._copy_to_audit_channel(batch, outlet, reply, ts)

    async def _conclude(
        self, batch: Batch, outlet: Outlet, reply: Reply, results: list[Result]
    ) -> str | None:
        """The final tally, and the thread reply listing what did not stop (each with Stop
        again); the tally message's ``ts``, if it was posted."""
        fallback = batch.ticket.response_url
        ts: str | None = await deliver(
            outlet.announce(reply, final=True, fallback_url=fallback), SLACK_SECONDS
        )
        failed = [
            (
                member,
                result.why or words("❓ unknown"),
                JobRef(member.room_id, member.job_id).encode(),
            )
            for member, result in zip(batch.members, results, strict=True)
            if result.category != all_streams.STOPPED
        ]
        if failed:
            thread = all_streams.failures(failed, len(results))
            await deliver(
                outlet.reply_in_thread(thread) if ts else outlet.to_clicker(thread), SLACK_SECONDS
            )
        return ts

    async def _one(self, batch: Batch, member: all_streams.Member) -> Outcome | NotRun | None:
        """One member's stop, through the one stop path, with a ticket of its own."""
        t = batch.ticket
        ticket = self._policy.issue(
            CONFIRM,
            room_id=member.room_id,
            job_id=member.job_id,
            requester=t.requester,
            channel_id=t.channel_id,
            response_url=t.response_url,
            room_name=member.room_name,
        )
        admitted = AdmittedClick(ticket, batch.grant, batch.approver, batch=t.id)
        try:
            return await self._stops.run(admitted, QuietOutlet(), time.monotonic())
        except Exception:  # a bug in one stop must not stop the others' tally
            log.exception("stop of %s/%s in batch %s failed", member.room_id, member.job_id, t.id)
            return None

    async def _revise(
        self, outlet: Outlet, render: Callable[[], Reply], changed: asyncio.Event
    ) -> None:
        while True:
            await changed.wait()
            changed.clear()
            await deliver(outlet.announce(render(), final=False, fallback_url=""), SLACK_SECONDS)
            await asyncio.sleep(REVISE_EVERY)

    async def _live_now(self, batch: Batch) -> tuple[list[SmartLiveJob], str | None]:
        """The jobs live now that were not in the confirmed set (started after the list): named
        afterwards, never stopped."""
        listed = {(m.room_id, m.job_id) for m in batch.members}
        deadline = asyncio.get_running_loop().time() + FIND_TIMEOUT
        try:
            found = await self._finder.everything(batch.grant, deadline)
        except CALL_FAILURES as exc:
            return [], describe(exc)
        live, _ = sort_found(found.rooms)
        return [job for job in live if (job.room_id, job.job_id) not in listed], None

    async def _copy_to_audit_channel(
        self, batch: Batch, outlet: Outlet, reply: Reply, ts: str | None
    ) -> None:
        audit_channel = self._policy.audit_channel
        if not audit_channel or audit_channel == batch.ticket.channel_id:
            return
        link = await deliver(outlet.permalink(), SLACK_SECONDS) if ts else None
        copy = to_channel.audit_copy(reply, batch.ticket.channel_id, link)
        await deliver(outlet.copy_to(audit_channel, copy), SLACK_SECONDS)

    def _record(self, batch: Batch, results: list[Result], started: float) -> None:
        tally = _tally(results)
        counts = ", ".join(f"{n} {key}" for key, n in sorted(tally.items()))
        self._audit.record(
            "stop_all",
            slack_user=batch.ticket.requester,
            channel=batch.ticket.channel_id,
            outcome="all_stopped" if tally.get(all_streams.STOPPED) == len(results) else "not_all",
            app_user=batch.grant.app_user_id,
            started=started,
            detail=f"{len(results)} jobs: {counts}"
            + ("; the list was not read whole" if batch.incomplete else ""),
            approved_by=batch.approver,
            batch=batch.ticket.id,
        )


def _tally(results: list[Result]) -> dict[str, int]:
    """How many members are in each category (the message's counts and the audit line's)."""
    return dict(Counter(result.category for result in results))


def _result(outcome: Outcome | NotRun | None) -> Result:
    if outcome is None:
        return Result(
            all_streams.UNKNOWN, words("❓ Outcome unknown (stoplive failed; see its log)")
        )
    if isinstance(outcome, NotRun):
        if outcome.why == "refused_in_flight":
            holder = outcome.holder
            who = mention(holder) if holder else words("someone")
            return Result(all_streams.ELSEWHERE, words("⏳ Already being stopped by {w}", w=who))
        return Result(
            all_streams.REFUSED, words("⚠️ Not stopped (the state store could not take it)")
        )
    category = CATEGORY.get(outcome.verdict, all_streams.UNKNOWN)
    return Result(category, words(HEADS[outcome.verdict]))
