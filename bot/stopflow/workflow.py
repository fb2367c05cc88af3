"""The stop workflow: who may stop what, the confirmation, the stop, and the truth after it.

It knows MetaStudio (through the client) and speaks in :class:`Reply` messages, but nothing of
Bolt: the Slack glue hands it plain requests and an :class:`Outlet` to speak through.

Rules that hold whatever arrives:
- nobody off the allowlist (or outside the allowed channels, or rooms) reaches MetaStudio;
- only the requester can confirm, before the ticket expires, and a ticket stops at most once;
- every confirmed stop ends in exactly one channel message that says what is true.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from bot.metastudio import MetaStudioClient, MetaStudioError, OutcomeUnknown, Unreachable
from bot.metastudio.models import LIVE_STATES, SmartLiveJob
from bot.stopflow import messages
from bot.stopflow.allowlist import Grant, GrantSource
from bot.stopflow.audit import AuditLog
from bot.stopflow.command import ShowHelp, StopTarget, UsageError, parse
from bot.stopflow.markup import Reply
from bot.stopflow.outcome import Outcome, Verdict
from bot.stopflow.tickets import BadTicket, Ledger, Ticket

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    allowlist: GrantSource  # a fixed Allowlist or a LiveAllowlist
    contact: str
    confirm_ttl: int
    allowed_channels: frozenset[str] = frozenset()
    audit_channel: str | None = None
    lookup_timeout: float = 3.0  # a read before confirming must never hold the requester up
    verify_for: float = 30.0  # how long to watch a stopped job before saying it still runs


@dataclass(frozen=True)
class CommandRequest:
    user_id: str
    channel_id: str
    text: str
    response_url: str


@dataclass(frozen=True)
class Click:
    user_id: str
    channel_id: str
    value: str


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and how to reach them: what every ticket is issued for."""

    user_id: str
    channel_id: str
    response_url: str
    grant: Grant

    def ticket(self, room_id: str, job_id: str, ttl: int) -> Ticket:
        return Ticket.issue(
            room_id=room_id,
            job_id=job_id,
            requester=self.user_id,
            channel_id=self.channel_id,
            ttl=ttl,
            response_url=self.response_url,
        )


@dataclass(frozen=True)
class Screened:
    """A request that passed every check that needs no network."""

    target: StopTarget
    grant: Grant


class Outlet(Protocol):
    """Where the workflow's words go. The Slack glue implements it."""

    async def to_requester(self, reply: Reply) -> None:
        """Replace the requester's ephemeral message."""

    async def to_clicker(self, reply: Reply) -> None:
        """A new ephemeral message for whoever clicked (who may not be the requester)."""

    async def announce(self, reply: Reply, *, final: bool, fallback_url: str) -> None:
        """The channel's message about this stop: posted once, then revised in place. If the
        channel will not take it, the final one goes through ``fallback_url`` (the command's
        Slack response URL) instead."""

    async def copy_to(self, channel_id: str, reply: Reply) -> None:
        """Post a copy in another channel (the audit channel)."""


class StopWorkflow:
    def __init__(
        self, policy: Policy, metastudio: MetaStudioClient, audit: AuditLog | None = None
    ) -> None:
        self.policy = policy
        self._metastudio = metastudio
        self._audit = audit or AuditLog()
        self._ledger = Ledger()

    # --- /stoplive ----------------------------------------------------------------------

    def answer_now(self, request: CommandRequest) -> Reply | None:
        """What to answer in the ack itself: help, usage or a refusal (recorded). None means
        the request passed every check that needs no network: :meth:`answer_later` has it."""
        checked = self._screen(request)
        if isinstance(checked, Screened):
            return None
        reply, why, target = checked
        if why:
            self._record("request", request, why, target=target)
        return reply

    async def answer_later(self, request: CommandRequest) -> Reply | None:
        """After the ack: the confirmation (or the room's live jobs) with the jobs as MetaStudio
        sees them. None if :meth:`answer_now` already said all there is to say."""
        checked = self._screen(request)
        if not isinstance(checked, Screened):
            return None
        started = time.monotonic()
        target, grant = checked.target, checked.grant
        asker = Asker(request.user_id, request.channel_id, request.response_url, grant)
        if target.job_id is None:
            reply, outcome = await self._room_choices(asker, target.room_id)
        else:
            reply, outcome = await self._confirmation(asker, target.room_id, target.job_id)
        self._record("request", request, outcome, target=target, grant=grant, started=started)
        return reply

    def _screen(self, request: CommandRequest) -> Screened | tuple[Reply, str, StopTarget | None]:
        """Every check that needs no network, in order; pure, so both answers can ask it.
        Otherwise: the reply, the audit outcome ("" for plain help) and the target, if any."""
        try:
            parsed = parse(request.text)
        except UsageError as exc:
            return messages.help_text(str(exc)), "usage_error", None
        if isinstance(parsed, ShowHelp):
            return messages.help_text(), "", None
        grant = self.policy.allowlist.grant_for(request.user_id)
        allowed_channels = self.policy.allowed_channels
        if grant is None:
            return messages.not_allowed(self.policy.contact), "refused_not_allowlisted", parsed
        if allowed_channels and request.channel_id not in allowed_channels:
            return messages.wrong_channel(list(allowed_channels)), "refused_channel", parsed
        if not grant.covers(parsed.room_id):
            reply = messages.room_not_granted(parsed.room_id, self.policy.contact)
            return reply, "refused_room", parsed
        return Screened(target=parsed, grant=grant)

    async def _room_choices(self, asker: Asker, room_id: str) -> tuple[Reply, str]:
        try:
            jobs = await self._bounded(
                self._metastudio.list_jobs(room_id, asker.grant.app_user_id, LIVE_STATES)
            )
        except (MetaStudioError, Unreachable, OutcomeUnknown, TimeoutError) as exc:
            return messages.room_unreadable(room_id, _describe(exc)), "room_unreadable"
        live = [job for job in jobs if job.is_live]
        if not live:
            return messages.no_live_jobs(room_id, None), "no_live_job"
        if len(live) == 1:
            return self._confirm_reply(asker, room_id, live[0].job_id, live[0], None)
        ttl = self.policy.confirm_ttl
        choices = [(job, asker.ticket(room_id, job.job_id, ttl)) for job in live]
        return messages.picker(room_id, choices, datetime.now(UTC)), "picker_shown"

    async def _confirmation(self, asker: Asker, room_id: str, job_id: str) -> tuple[Reply, str]:
        """The confirmation with the job as MetaStudio sees it; if that read fails, say so and
        confirm anyway (an incident is no time to be blocked by a read)."""
        try:
            job = await self._bounded(
                self._metastudio.get_job(room_id, job_id, asker.grant.app_user_id)
            )
        except MetaStudioError as exc:
            if exc.status == 404:
                return messages.job_missing(room_id, job_id, exc), "job_missing"
            return self._confirm_reply(asker, room_id, job_id, None, _describe(exc))
        except (Unreachable, OutcomeUnknown, TimeoutError) as exc:
            return self._confirm_reply(asker, room_id, job_id, None, _describe(exc))
        if not job.is_live:
            return messages.job_not_live(job, datetime.now(UTC)), "job_not_live"
        return self._confirm_reply(asker, room_id, job_id, job, None)

    def _confirm_reply(
        self, asker: Asker, room_id: str, job_id: str, job: SmartLiveJob | None, problem: str | None
    ) -> tuple[Reply, str]:
        ticket = asker.ticket(room_id, job_id, self.policy.confirm_ttl)
        reply = messages.confirmation(
            ticket,
            asker.grant.app_user_id,
            job,
            problem,
            self.policy.confirm_ttl,
            datetime.now(UTC),
        )
        return reply, "confirmation_shown" if problem is None else "confirmation_shown_unread"

    # --- buttons ------------------------------------------------------------------------

    async def pick(self, click: Click, outlet: Outlet) -> None:
        """A job chosen from a room's list: show its confirmation in place of the list."""
        started = time.monotonic()
        checked = await self._check_click("pick", click, outlet, started)
        if checked is None:
            return
        ticket, grant = checked
        asker = Asker(ticket.requester, ticket.channel_id, ticket.response_url, grant)
        reply, outcome = await self._confirmation(asker, ticket.room_id, ticket.job_id)
        await outlet.to_requester(reply)
        self._record("pick", ticket, outcome, grant=grant, started=started)

    async def cancel(self, click: Click, outlet: Outlet) -> None:
        started = time.monotonic()
        checked = await self._check_click("cancel", click, outlet, started)
        if checked is None:
            return
        ticket, grant = checked
        if not self._ledger.claim(ticket):  # already confirmed or cancelled
            self._record("cancel", ticket, "ignored_already_used", grant=grant, started=started)
            return
        await outlet.to_requester(messages.cancelled(ticket))
        self._record("cancel", ticket, "cancelled", grant=grant, started=started)

    async def confirm(self, click: Click, outlet: Outlet) -> None:
        started = time.monotonic()
        checked = await self._check_click("confirm", click, outlet, started)
        if checked is None:
            return
        ticket, grant = checked
        if not self._ledger.claim(ticket):
            self._record("confirm", ticket, "ignored_already_used", grant=grant, started=started)
            return
        await outlet.to_requester(messages.stopping(ticket))
        outcome = await self._stop_and_watch(ticket, grant, outlet)
        reply = messages.announcement(outcome)
        await outlet.announce(reply, final=True, fallback_url=ticket.response_url)
        await outlet.to_requester(reply)
        if self.policy.audit_channel and self.policy.audit_channel != ticket.channel_id:
            await outlet.copy_to(self.policy.audit_channel, reply)
        self._record(
            "outcome",
            ticket,
            outcome.verdict.value,
            grant=grant,
            started=started,
            request_id=outcome.request_id,
            detail=_outcome_detail(outcome),
        )

    async def _check_click(
        self, event: str, click: Click, outlet: Outlet, started: float
    ) -> tuple[Ticket, Grant] | None:
        """The checks every button shares; None when the click must go no further."""
        try:
            ticket = Ticket.decode(click.value)
        except BadTicket as exc:
            await outlet.to_clicker(messages.broken_button())
            self._audit.record(
                event,
                slack_user=click.user_id,
                channel=click.channel_id,
                outcome="bad_ticket",
                started=started,
                detail=str(exc),
            )
            return None
        if click.user_id != ticket.requester:
            await outlet.to_clicker(messages.not_yours(ticket))
            self._audit.record(
                event,
                slack_user=click.user_id,
                channel=click.channel_id,
                outcome="refused_not_requester",
                room=ticket.room_id,
                job=ticket.job_id,
                started=started,
                detail=f"requested by {ticket.requester}",
            )
            return None
        if ticket.expired():
            await outlet.to_requester(messages.expired(ticket))
            self._record(event, ticket, "expired", started=started)
            return None
        grant = self.policy.allowlist.grant_for(ticket.requester)
        if grant is None or not grant.covers(ticket.room_id):  # the allowlist may have changed
            await outlet.to_requester(messages.not_allowed(self.policy.contact))
            self._record(event, ticket, "refused_not_allowlisted", started=started)
            return None
        return ticket, grant

    # --- the stop itself ----------------------------------------------------------------

    async def _stop_and_watch(self, ticket: Ticket, grant: Grant, outlet: Outlet) -> Outcome:
        try:
            accepted = await self._metastudio.stop_job(
                ticket.room_id, ticket.job_id, grant.app_user_id
            )
        except MetaStudioError as exc:
            return Outcome(
                verdict=Verdict.REFUSED,
                ticket=ticket,
                app_user=grant.app_user_id,
                answered=True,
                error=exc,
                request_id=exc.request_id,
            )
        except (OutcomeUnknown, Unreachable) as exc:
            log.warning(
                "stop %s/%s: %s; reading the job to find out", ticket.room_id, ticket.job_id, exc
            )
            await outlet.announce(
                messages.stop_sent(ticket, answered=False),
                final=False,
                fallback_url=ticket.response_url,
            )
            return await self._watch(ticket, grant, answered=False, request_id="")
        await outlet.announce(
            messages.stop_sent(ticket, answered=True), final=False, fallback_url=ticket.response_url
        )
        return await self._watch(ticket, grant, answered=True, request_id=accepted.request_id)

    async def _watch(
        self, ticket: Ticket, grant: Grant, *, answered: bool, request_id: str
    ) -> Outcome:
        """Read the job (backing off) until it has ended or ``verify_for`` runs out."""
        started = time.monotonic()
        deadline = started + self.policy.verify_for
        delay, job, problem = 0.25, None, ""
        while True:
            try:
                job = await asyncio.wait_for(
                    self._metastudio.get_job(ticket.room_id, ticket.job_id, grant.app_user_id),
                    timeout=max(deadline - time.monotonic(), 0.5),
                )
            except (MetaStudioError, Unreachable, OutcomeUnknown, TimeoutError) as exc:
                problem = _describe(exc)
            else:
                if not job.is_live:
                    return Outcome(
                        verdict=Verdict.STOPPED,
                        ticket=ticket,
                        app_user=grant.app_user_id,
                        answered=answered,
                        request_id=request_id,
                        job=job,
                        waited=time.monotonic() - started,
                    )
            if time.monotonic() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 1.6, 5.0)
        return Outcome(
            verdict=Verdict.STILL_LIVE if job is not None else Verdict.UNKNOWN,
            ticket=ticket,
            app_user=grant.app_user_id,
            answered=answered,
            request_id=request_id,
            job=job,
            waited=time.monotonic() - started,
            problem=problem,
        )

    # --- plumbing -----------------------------------------------------------------------

    async def _bounded(self, call: Awaitable[T]) -> T:
        return await asyncio.wait_for(call, timeout=self.policy.lookup_timeout)

    def _record(
        self,
        event: str,
        subject: CommandRequest | Ticket,
        outcome: str,
        *,
        target: StopTarget | None = None,
        grant: Grant | None = None,
        started: float | None = None,
        request_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """One audit line about a command (and its target, once parsed) or a ticket."""
        room: str | None
        job: str | None
        if isinstance(subject, Ticket):
            user, room, job = subject.requester, subject.room_id, subject.job_id
        else:
            user = subject.user_id
            room, job = (target.room_id, target.job_id) if target else (None, None)
        self._audit.record(
            event,
            slack_user=user,
            channel=subject.channel_id,
            outcome=outcome,
            app_user=grant.app_user_id if grant else None,
            room=room,
            job=job,
            request_id=request_id,
            started=started,
            detail=detail,
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "MetaStudio took too long to answer"
    if isinstance(exc, MetaStudioError):
        return f"HTTP {exc.status} {exc.error_code}: {exc.error_msg}"
    return str(exc)


def _outcome_detail(outcome: Outcome) -> str | None:
    if outcome.error is not None:
        return f"HTTP {outcome.error.status} {outcome.error.error_code}: {outcome.error.error_msg}"
    parts = [] if outcome.answered else ["stop unanswered"]
    if outcome.job is not None:
        parts.append(f"job {outcome.job.state}")
    if outcome.problem:
        parts.append(outcome.problem)
    return "; ".join(parts) or None
