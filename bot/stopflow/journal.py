"""A stop's claims and its journal entry: what the state store holds of a stop, so that no
second stop is sent, a replica that dies leaves a stop someone can take over, and the last
day's history shows it.

:class:`StopJournal` is the part of the stop supervisor (:mod:`bot.stopflow.stopping`) that
the store sees: the lease renewed while a stop runs, an entry the store forgot written back,
the entry closed (giving the job back in the same write).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from bot.metastudio import MetaStudioClient
from bot.metrics import STORE_ERRORS
from bot.stopflow.audit import AuditLog
from bot.stopflow.outcome import Outcome
from bot.stopflow.outlet import OutletFactory
from bot.stopflow.policy import Policy
from bot.stopflow.progress import Progress, outcome_detail
from bot.stopflow.store import (
    Claim,
    JournalEntry,
    Ownership,
    StateStore,
    StoreUnavailable,
    entry_key,
)
from bot.stopflow.tickets import Ticket

log = logging.getLogger(__name__)

LEASE = 15.0  # a journal entry whose owner has not renewed it for this long is taken over
RENEW_EVERY = 5.0
STOP_CALL_ALLOWANCE = 30.0  # the stop call itself (with its retries and waits): at most this
DELIVERY_SECONDS = 30.0  # one Slack delivery, retries included
# How far a replica's clock may be off and still work: Slack's request signatures are refused
# beyond five minutes (bot/slack/inbound.py), so no working replica is further off than this.
CLOCK_MARGIN = 300.0


def ticket_claim(ticket: Ticket) -> Claim:
    """The confirmation's claim: whoever takes it first (Stop or Cancel) uses the ticket, once.

    It lasts as long as any replica could still accept a click of it: the ticket's whole life
    plus :data:`CLOCK_MARGIN`, measured without this replica's clock. Its remaining life by
    this clock (with a floor of 1 s) let a replica whose clock is behind take the same ticket
    again once the claim had expired, and send a second stop."""
    return Claim(f"ticket:{ticket.id}", ticket.requester, ticket.life + CLOCK_MARGIN)


def job_claim(ticket: Ticket) -> tuple[str, str]:
    """The job's claim key (one stop in flight per job) and this stop's holder of it. The
    holder names the requester (a second clicker is told who) and the stop: only this stop, or
    whoever takes it over, may release it, never a later stop of the same person that took the
    claim after this one's expired."""
    return f"job:{ticket.room_id}:{ticket.job_id}", f"{ticket.requester}/{ticket.id}"


def ticket_of(entry: JournalEntry) -> Ticket:
    """The journal entry as the ticket it came from (without its seal: nobody clicks it)."""
    return Ticket(
        id=entry.stop_id,
        room_id=entry.room_id,
        job_id=entry.job_id,
        requester=entry.requester,
        channel_id=entry.channel_id,
        issued_at=entry.created_at,
        expires_at=entry.created_at,
        response_url=entry.response_url,
        room_name=entry.room_name,
    )


class StopJournal:
    """The stop supervisor's parts and deadlines, and the store's side of each stop."""

    def __init__(
        self,
        policy: Policy,
        metastudio: MetaStudioClient,
        store: StateStore,
        audit: AuditLog,
        outlets: OutletFactory,
        replica: str,
        deadline: float | None = None,
        stop_call_allowance: float = STOP_CALL_ALLOWANCE,
    ) -> None:
        self._policy = policy
        self._deadline = deadline
        self._stop_call_allowance = stop_call_allowance
        self._metastudio = metastudio
        self._store = store
        self._audit = audit
        self._outlets = outlets
        self.replica = replica
        # job claims of stops taken over, given back once the original stop call is over
        self._releases: list[tuple[float, str, str]] = []
        # the stops this process is running (its own or taken over): a take-over sweep that
        # finds one of them (its lease lapsed while the store refused writes) leaves it alone
        self._running: set[str] = set()

    @property
    def deadline(self) -> float:
        """How long a live stop may take from the stop call to a known outcome."""
        if self._deadline is not None:
            return self._deadline
        return self.watch_for + self._stop_call_allowance

    @property
    def watch_for(self) -> float:
        return max(self._policy.verify_for, self._policy.watch_for)

    async def _finish(self, progress: Progress, outcome: Outcome) -> None:
        """Close the journal entry; one the store forgot is written back first, so the last
        day's history still shows the stop."""
        verdict, detail = outcome.verdict.value, outcome_detail(outcome) or ""
        # a live stop gives its job back in the same write; a take-over later (release_due)
        release = None if progress.recovered_by else job_claim(progress.ticket)
        stop_id = progress.entry.stop_id
        owned = await self._store.finish(stop_id, self.replica, verdict, detail, release)
        progress.released = release is not None
        if owned is Ownership.MISSING and await self._write_back(progress):
            await self._store.finish(stop_id, self.replica, verdict, detail)

    async def _renew(self, progress: Progress) -> None:
        """Keep the journal lease while the stop runs; notice if someone else took it."""
        while True:
            await asyncio.sleep(RENEW_EVERY)
            await self._journal(progress)

    async def _journal(self, progress: Progress, **changes: str) -> None:
        """Record a step (and renew the lease). A store that is down does not stop a stop that
        is already sent: the entry stays, and a take-over may finish it if we die."""
        try:
            owned = await self._store.update(progress.entry.stop_id, self.replica, LEASE, **changes)
            if owned is Ownership.MISSING:  # the store forgot it: this stop is still ours
                owned = await self._write_back(progress, **changes)
        except StoreUnavailable as exc:
            STORE_ERRORS.labels("update").inc()
            log.warning("journal update of %s failed: %s", progress.entry.stop_id, exc)
            return
        if owned:
            progress.entry = progress.entry.with_changes(**changes)  # what a write-back writes
        elif not progress.lease_lost:
            progress.lease_lost = True
            log.error("stop %s was taken over by another replica", progress.entry.stop_id)

    async def _write_back(self, progress: Progress, **changes: str) -> Ownership:
        """Write back the entry (and claims) of a stop the store forgot while this replica ran
        it: a Redis flushed, or restarted without persistence. The stop is still this
        replica's, and without its entry nobody could take it over, nor the history show it;
        without its claims the same confirmation (or another of the job) could stop again.
        OWNED once written; ELSEWHERE if a stop of the same confirmation got in meanwhile."""
        entry = progress.entry.with_changes(**changes)
        taken = await self._store.begin(entry, self.replica, LEASE, self._claims(progress.ticket))
        if taken is not None and taken.key != entry_key(entry.stop_id):
            # a claim went to another stop meanwhile: ours is still sent, and still ours
            taken = await self._store.begin(entry, self.replica, LEASE)
        if taken is None:
            log.warning("the state store lost stop %s; wrote it back", entry.stop_id)
            return Ownership.OWNED
        if taken.holder == self.replica:  # written back by this stop's other journal write
            return await self._store.update(entry.stop_id, self.replica, LEASE, **changes)
        log.error(
            "the state store lost stop %s, and %s took %s meanwhile",
            entry.stop_id,
            taken.holder,
            taken.key,
        )
        return Ownership.ELSEWHERE

    def _claims(self, ticket: Ticket) -> tuple[Claim, Claim]:
        """A stop's claims, in the order they are taken: its confirmation, then its job (held
        for the stop's deadline, two deliveries and a lease; given back once it is over)."""
        job_key, job_holder = job_claim(ticket)
        job_ttl = self.deadline + 2 * DELIVERY_SECONDS + LEASE
        return ticket_claim(ticket), Claim(job_key, job_holder, job_ttl)

    async def _quietly(self, operation: str, call: Awaitable[object]) -> None:
        try:
            await call
        except StoreUnavailable as exc:
            STORE_ERRORS.labels(operation).inc()
            log.warning("state store %s failed: %s", operation, exc)
