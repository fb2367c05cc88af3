"""``/stoplive all``: the list with its one red button, its confirmation, and (two-person) the
channel's approval, up to the confirmed set handed to :mod:`~bot.stopflow.batch`.

The set that was confirmed is the set stopped: it is kept as a store note under the red
button's ticket id (a button value holds at most 2,000 characters), read back at the click, and
a job started after the list is not in it. Once-only steps are store claims: the confirmation
(``ticket:<id>``, the claim a single stop's Stop or Cancel takes) and the approval
(``approve_all:<id>``, taken by the approval or the requester's withdrawal, whichever is first,
on any replica). The grant is checked again at every click, so removing ``stop_all`` from the
allowlist applies to a button already on screen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.metastudio import CALL_FAILURES, describe
from bot.metastudio.ids import InvalidId, check_resource_id
from bot.metastudio.models import SmartLiveJob
from bot.stopflow.allowlist import Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.batch import Batch, BatchRunner
from bot.stopflow.desk import FIND_TIMEOUT, shortfall, sort_found
from bot.stopflow.finding import LiveFinder
from bot.stopflow.gate import (
    AdmittedClick,
    Click,
    CommandRequest,
    Expired,
    Gate,
    Refusal,
    RoomNotGranted,
)
from bot.stopflow.journal import CLOCK_MARGIN, ticket_claim
from bot.stopflow.outlet import Outlet, OutletFactory, tell_refusal
from bot.stopflow.policy import Policy
from bot.stopflow.store import StateStore, StoreRefusesWrites, StoreUnavailable
from bot.stopflow.tickets import ALL, APPROVE_ALL, STOP_ALL, WITHDRAW_ALL, Ticket
from bot.stopflow.words import all_streams, live_lists, notices, refusals
from bot.stopflow.words.all_streams import Member
from bot.stopflow.words.markup import Mrkdwn, Reply, join

log = logging.getLogger(__name__)

NOTE_MARGIN = 300.0  # the note outlives its ticket by this: a click at the last second reads it


def note_key(ticket: Ticket) -> str:
    return f"stop_all:{ticket.id}"


def approval_key(ticket: Ticket) -> str:
    return f"approve_all:{ticket.id}"


EXPIRED = "expired"  # the approval claim's holder when an expiry took it


def _approval_ttl(ticket: Ticket) -> float:
    """The approval claim outlives the note (kept earlier, for as long): while the note still
    names the request's message, the claim still says whether it was approved."""
    return ticket.life + max(NOTE_MARGIN, CLOCK_MARGIN)


class StopAllDesk:
    def __init__(
        self,
        policy: Policy,
        gate: Gate,
        finder: LiveFinder,
        store: StateStore,
        audit: AuditLog,
        batches: BatchRunner,
        outlets: OutletFactory,
    ) -> None:
        self._policy = policy
        self._gate = gate
        self._finder = finder
        self._store = store
        self._audit = audit
        self._batches = batches
        self._outlets = outlets

    # --- the list -----------------------------------------------------------------------

    async def offer(self, request: CommandRequest, grant: Grant) -> Reply:
        """Every live job the requester may stop, and one red button for exactly those.
        Nothing live in a list read whole: said; in a list not read whole: what could not
        be read, never "nothing live"."""
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + FIND_TIMEOUT
        try:
            found = await self._finder.everything(grant, deadline)
        except CALL_FAILURES as exc:
            reply, outcome = live_lists.rooms_unlisted(None, describe(exc)), "rooms_unreadable"
            count = 0
        else:
            live, unreadable = sort_found(found.rooms)
            short = shortfall(found)
            parts = live_lists.not_read(unreadable, short)
            missing = join("\n", parts) if parts else None
            count = len(live)
            if not live:
                reply, outcome = (
                    (live_lists.jobs_unreadable(None, unreadable, short), "rooms_unreadable")
                    if missing
                    else (live_lists.nothing_live(), "no_live_job")
                )
            else:
                reply, outcome = await self._offer(request, live, missing)
        self._audit.record(
            "request",
            slack_user=request.user_id,
            channel=request.channel_id,
            outcome=outcome,
            app_user=grant.app_user_id,
            started=started,
            detail=f"all: {count} live",
        )
        return reply

    async def _offer(
        self, request: CommandRequest, live: list[SmartLiveJob], missing: Mrkdwn | None
    ) -> tuple[Reply, str]:
        ticket = self._policy.issue(
            STOP_ALL,
            room_id=ALL,
            job_id=ALL,
            requester=request.user_id,
            channel_id=request.channel_id,
            response_url=request.response_url,
        )
        members = [Member(job.room_id or "", job.job_id, job.room_name or "") for job in live]
        try:
            await self._keep(ticket, _note_of(members, missing is not None))
        except StoreUnavailable as exc:
            return notices.cannot_confirm_safely(_refusing(exc)), "refused_store_unavailable"
        reply = all_streams.offer(
            ticket,
            list(zip(members, live, strict=True)),
            datetime.now(UTC),
            missing,
            self._policy.two_person_stop_all,
        )
        return reply, "stop_all_shown"

    # --- the clicks ---------------------------------------------------------------------

    async def confirm(self, click: Click, outlet: Outlet) -> None:
        """The red button: the set read back, the confirmation used once, then the batch, or
        (two-person) the channel asked for a second person."""
        started = time.monotonic()
        opened = await self._opened("stop_all_confirm", click, outlet, STOP_ALL, started)
        if opened is None:
            return
        admitted, batch = opened
        ticket = admitted.ticket
        if not await self._within_rooms(
            "stop_all_confirm", batch, admitted.grant, click, outlet, started
        ):
            return
        try:
            claim = ticket_claim(ticket)
            taken = await self._store.claim(claim.key, claim.holder, claim.ttl)
        except StoreUnavailable as exc:
            await outlet.to_requester(notices.cannot_confirm_safely(_refusing(exc)))
            self._record("stop_all_confirm", click, "refused_store_unavailable", started, str(exc))
            return
        if taken is not None:
            await outlet.to_clicker(notices.already_used())
            self._record("stop_all_confirm", click, "ignored_already_used", started)
            return
        if self._policy.two_person_stop_all:
            await self._ask(batch, outlet, click, started)
            return
        self._record("stop_all_confirm", click, "confirmed", started, f"{len(batch.members)} jobs")
        # beside the stops, not before them: a slow note must not delay them
        note = all_streams.stopping_note(ticket.channel_id, len(batch.members))
        noted = asyncio.create_task(outlet.to_requester(note))
        await self._batches.run(batch, outlet)
        await noted

    async def _ask(self, batch: Batch, outlet: Outlet, click: Click, started: float) -> None:
        """Two-person: ask the channel for a second person; its message's ``ts`` goes into the
        note, so the approval (or the expiry) revises that message."""
        ticket, key = batch.ticket, self._policy.ticket_key
        request = all_streams.asked(
            ticket,
            len(batch.members),
            ticket.for_purpose(APPROVE_ALL, key),
            ticket.for_purpose(WITHDRAW_ALL, key),
            batch.members,
            batch.incomplete,
        )
        channel = self._outlets(ticket.channel_id, ticket.response_url, "")
        ts = await channel.announce(request, final=False, fallback_url="")
        if not ts:
            await outlet.to_requester(all_streams.ask_not_posted())
            self._record("stop_all_confirm", click, "approval_not_asked", started)
            return
        try:
            await self._keep(ticket, _note_of(batch.members, batch.incomplete) | {"ask_ts": ts})
        except StoreUnavailable as exc:
            log.warning("could not keep the approval message of %s: %s", ticket.id, exc)
        await outlet.to_requester(all_streams.asked_note(ticket, len(batch.members)))
        self._record(
            "stop_all_confirm", click, "approval_asked", started, f"{len(batch.members)} jobs"
        )

    async def approve(self, click: Click, outlet: Outlet) -> None:
        """A second person's approval: used once (whichever of two replicas and two approvers
        is first), never by the requester, never after the request expired."""
        started = time.monotonic()
        opened = await self._opened("approve_all", click, outlet, APPROVE_ALL, started)
        if opened is None:
            return
        admitted, batch = opened
        ticket = admitted.ticket
        for grant in (admitted.grant, admitted.approver_grant):
            if not await self._within_rooms("approve_all", batch, grant, click, outlet, started):
                return
        if not await self._take_approval(ticket, click, outlet, started):
            return
        self._record("approve_all", click, "approved", started, f"{len(batch.members)} jobs")
        ask_ts = await self._ask_ts(ticket)
        run_outlet = self._outlets(ticket.channel_id, ticket.response_url, ask_ts)
        await self._batches.run(batch, run_outlet)

    async def withdraw(self, click: Click, outlet: Outlet) -> None:
        """The requester's Cancel of a request not yet approved."""
        started = time.monotonic()
        admitted = await self._admit("withdraw_all", click, outlet, WITHDRAW_ALL, started)
        if admitted is None:
            return
        ticket = admitted.ticket
        if not await self._take_approval(ticket, click, outlet, started):
            return
        await self._close_ask(ticket, await self._count(ticket), "withdrawn")
        self._record("withdraw_all", click, "withdrawn", started)

    async def _take_approval(
        self, ticket: Ticket, click: Click, outlet: Outlet, started: float
    ) -> bool:
        event = "approve_all" if click.user_id != ticket.requester else "withdraw_all"
        try:
            taken = await self._store.claim(
                approval_key(ticket), click.user_id, _approval_ttl(ticket)
            )
        except StoreUnavailable as exc:
            await outlet.to_clicker(notices.cannot_confirm_safely(_refusing(exc)))
            self._record(event, click, "refused_store_unavailable", started, str(exc))
            return False
        if taken is not None:
            # "expired": a replica whose clock saw the request expire first closed it
            await outlet.to_clicker(all_streams.already_approved(expired=taken == EXPIRED))
            self._record(event, click, "ignored_already_used", started, f"taken by {taken}")
            return False
        return True

    async def _close_ask(self, ticket: Ticket, count: int, why: str) -> None:
        ts = await self._ask_ts(ticket)
        if ts:
            channel = self._outlets(ticket.channel_id, ticket.response_url, ts)
            await channel.announce(
                all_streams.ask_closed(ticket, count, why), final=False, fallback_url=""
            )

    # --- plumbing -----------------------------------------------------------------------

    async def _keep(self, ticket: Ticket, note: dict[str, object]) -> None:
        await self._store.put_note(note_key(ticket), json.dumps(note), ticket.life + NOTE_MARGIN)

    async def _within_rooms(
        self,
        event: str,
        batch: Batch,
        grant: Grant | None,
        click: Click,
        outlet: Outlet,
        started: float,
    ) -> bool:
        """Whether every job of the set is in ``grant``'s rooms (the requester's, checked again
        at the click; an approver's): a restricted person confirms or approves only a set
        wholly within their rooms. Refused, and said, otherwise."""
        outside = _outside(batch, grant)
        if not outside:
            return True
        await outlet.to_clicker(
            refusals.refusal(RoomNotGranted(outside[0].room_id, self._policy.contact))
        )
        self._record(event, click, "refused_room", started, f"{len(outside)} jobs outside")
        return False

    async def _opened(
        self, event: str, click: Click, outlet: Outlet, purpose: str, started: float
    ) -> tuple[AdmittedClick, Batch] | None:
        """The click admitted and its confirmed set read back; None (the clicker told, the
        click audited) when either fails."""
        admitted = await self._admit(event, click, outlet, purpose, started)
        if admitted is None:
            return None
        batch = await self._read(admitted.ticket, admitted, outlet)
        if batch is None:
            self._record(event, click, "list_unread", started)
            return None
        return admitted, batch

    async def _admit(
        self, event: str, click: Click, outlet: Outlet, purpose: str, started: float
    ) -> AdmittedClick | None:
        checked = self._gate.all_click(click, purpose)
        if not isinstance(checked, Refusal):
            return checked
        await tell_refusal(outlet, checked, click.user_id)
        if isinstance(checked.reason, Expired) and purpose == APPROVE_ALL and checked.ticket:
            await self._expire(checked.ticket)
        self._record(event, click, checked.outcome, started, checked.detail)
        return None

    async def _expire(self, ticket: Ticket) -> None:
        """An Approve clicked after the request expired: its message says so, but only if the
        expiry takes the approval first. Once approved, that message is the batch's tally, and
        an old button clicked (or replayed, by anyone) must not revise it to "nothing was
        stopped"; once withdrawn, it already says why."""
        try:
            taken = await self._store.claim(approval_key(ticket), EXPIRED, _approval_ttl(ticket))
        except StoreUnavailable as exc:
            log.warning("not closing the expired request %s: %s", ticket.id, exc)
            return
        if taken is None:
            await self._close_ask(ticket, await self._count(ticket), "expired")

    async def _note(self, ticket: Ticket) -> dict[str, object] | None:
        """The ticket's note; None if there is none or it is not ours to read (garbled).
        StoreUnavailable if the store cannot say."""
        text = await self._store.get_note(note_key(ticket))
        try:
            note = json.loads(text) if text else None
        except ValueError:
            log.warning("the note of %s is not JSON", ticket.id)
            return None
        return note if isinstance(note, dict) else None

    async def _best_effort(self, ticket: Ticket, field: str) -> object:
        """A field of the note for words only (the request's count, its message): None when
        it cannot be read."""
        try:
            note = await self._note(ticket)
        except StoreUnavailable as exc:
            log.warning("the note of %s could not be read: %s", ticket.id, exc)
            return None
        return note.get(field) if note else None

    async def _count(self, ticket: Ticket) -> int:
        jobs = await self._best_effort(ticket, "jobs")
        return len(jobs) if isinstance(jobs, list) else 0

    async def _ask_ts(self, ticket: Ticket) -> str:
        ts = await self._best_effort(ticket, "ask_ts")
        return ts if isinstance(ts, str) else ""

    async def _read(self, ticket: Ticket, admitted: AdmittedClick, outlet: Outlet) -> Batch | None:
        """The confirmed set as the note keeps it. None, with the clicker told, when the store
        cannot say (fail closed) or the set is gone or garbled: then nothing is stopped."""
        try:
            note = await self._note(ticket)
        except StoreUnavailable as exc:
            await outlet.to_clicker(notices.cannot_confirm_safely(_refusing(exc)))
            return None
        batch = _batch(note, ticket, admitted) if note is not None else None
        if batch is None:
            await outlet.to_clicker(all_streams.list_expired())
        return batch

    def _record(
        self, event: str, click: Click, outcome: str, started: float, detail: str | None = None
    ) -> None:
        self._audit.record(
            event,
            slack_user=click.user_id,
            channel=click.channel_id,
            outcome=outcome,
            started=started,
            detail=detail or None,
        )


def _batch(note: dict[str, object], ticket: Ticket, admitted: AdmittedClick) -> Batch | None:
    """The note's set, checked as strictly as a button's IDs; None if anything is off."""
    jobs, incomplete = note.get("jobs"), note.get("incomplete", True)
    if not isinstance(jobs, list) or not jobs or not isinstance(incomplete, bool):
        return None
    members: list[Member] = []
    for job in jobs:
        if not (isinstance(job, list) and len(job) == 3 and all(isinstance(x, str) for x in job)):
            return None
        try:
            check_resource_id("room ID", job[0])
            check_resource_id("job ID", job[1])
        except InvalidId:
            return None
        members.append(Member(job[0], job[1], job[2]))
    return Batch(
        ticket,
        tuple(members),
        admitted.grant,
        admitted.approved_by,
        incomplete,
    )


def _note_of(members: Sequence[Member], incomplete: bool) -> dict[str, object]:
    """What the store keeps of a listed set: each job's room, ID and room name, and whether
    the list was read whole (said again in the final tally). Data only, never words: what
    comes back from the store is checked and escaped like any foreign text."""
    return {"jobs": [[m.room_id, m.job_id, m.room_name] for m in members], "incomplete": incomplete}


def _refusing(exc: StoreUnavailable) -> bool:
    return isinstance(exc, StoreRefusesWrites)


def _outside(batch: Batch, grant: Grant | None) -> list[Member]:
    """The members outside ``grant``'s rooms (none for a grant of every room)."""
    rooms = grant.rooms if grant else None
    return [m for m in batch.members if rooms is not None and m.room_id not in rooms]
