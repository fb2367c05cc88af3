"""Answering ``/stoplive`` and a pick from a room's list: look the job up, offer a confirmation.

Nothing here stops anything. The access check is :class:`~bot.stopflow.gate.Gate`'s; this
module adds what needs the network (the job as MetaStudio sees it) and issues the sealed
tickets the confirmation's buttons carry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from bot.metastudio import (
    IamError,
    MetaStudioClient,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
)
from bot.metastudio.models import LIVE_STATES, SmartLiveJob
from bot.stopflow import messages
from bot.stopflow.allowlist import Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.gate import Admitted, CommandRequest, Gate, Refusal
from bot.stopflow.markup import Reply
from bot.stopflow.policy import Policy
from bot.stopflow.tickets import Ticket

T = TypeVar("T")
# What a read before confirming may fail with; each is said to the requester, never raised.
LOOKUP_FAILURES = (
    MetaStudioError,
    Unreachable,
    OutcomeUnknown,
    UnreadableAnswer,
    IamError,
    TimeoutError,
    ValueError,  # an answer that is not the documented JSON, from a client that let it through
)


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and how to reach them: what every ticket is issued for."""

    user_id: str
    channel_id: str
    response_url: str
    grant: Grant


class RequestDesk:
    def __init__(
        self, policy: Policy, gate: Gate, metastudio: MetaStudioClient, audit: AuditLog
    ) -> None:
        self._policy = policy
        self._gate = gate
        self._metastudio = metastudio
        self._audit = audit

    def answer_now(self, request: CommandRequest) -> Reply | None:
        """What to answer in the ack itself: help, usage or a refusal (recorded). None means
        the request passed every check that needs no network."""
        checked = self._gate.command(request)
        if isinstance(checked, Admitted):
            return None
        if checked.outcome:
            target = Gate.target_of(request)
            self._audit.record(
                "request",
                slack_user=request.user_id,
                channel=request.channel_id,
                outcome=checked.outcome,
                room=target.room_id if target else None,
                job=target.job_id if target else None,
            )
        return checked.reply

    async def answer_later(self, request: CommandRequest) -> Reply | None:
        """After the ack: the confirmation (or the room's live jobs) with the jobs as MetaStudio
        sees them. None if :meth:`answer_now` already said all there is to say."""
        checked = self._gate.command(request)
        if isinstance(checked, Refusal):
            return None
        started = time.monotonic()
        target, grant = checked.target, checked.grant
        asker = Asker(request.user_id, request.channel_id, request.response_url, grant)
        if target.job_id is None:
            reply, outcome = await self._room_choices(asker, target.room_id)
        else:
            reply, outcome = await self.confirmation(asker, target.room_id, target.job_id)
        self._audit.record(
            "request",
            slack_user=request.user_id,
            channel=request.channel_id,
            outcome=outcome,
            app_user=grant.app_user_id,
            room=target.room_id,
            job=target.job_id,
            started=started,
        )
        return reply

    async def confirmation(self, asker: Asker, room_id: str, job_id: str) -> tuple[Reply, str]:
        """The confirmation with the job as MetaStudio sees it; if that read fails, say so and
        confirm anyway (an incident is no time to be blocked by a read)."""
        try:
            job = await self._bounded(
                self._metastudio.get_job(room_id, job_id, asker.grant.app_user_id)
            )
        except LOOKUP_FAILURES as exc:
            if isinstance(exc, MetaStudioError) and exc.status == 404:
                return messages.job_missing(room_id, job_id, exc), "job_missing"
            return self._confirm_reply(asker, room_id, job_id, None, describe(exc))
        if not job.is_live:
            return messages.job_not_live(job, datetime.now(UTC)), "job_not_live"
        return self._confirm_reply(asker, room_id, job_id, job, None)

    async def _room_choices(self, asker: Asker, room_id: str) -> tuple[Reply, str]:
        try:
            jobs = await self._bounded(
                self._metastudio.list_jobs(room_id, asker.grant.app_user_id, LIVE_STATES)
            )
        except LOOKUP_FAILURES as exc:
            return messages.room_unreadable(room_id, describe(exc)), "room_unreadable"
        live = [job for job in jobs if job.is_live]
        if not live:
            return messages.no_live_jobs(room_id, None), "no_live_job"
        if len(live) == 1:
            return self._confirm_reply(asker, room_id, live[0].job_id, live[0], None)
        choices = [(job, self._ticket(asker, room_id, job.job_id)) for job in live]
        return messages.picker(room_id, choices, datetime.now(UTC)), "picker_shown"

    def _confirm_reply(
        self, asker: Asker, room_id: str, job_id: str, job: SmartLiveJob | None, problem: str | None
    ) -> tuple[Reply, str]:
        reply = messages.confirmation(
            self._ticket(asker, room_id, job_id),
            asker.grant.app_user_id,
            job,
            problem,
            self._policy.confirm_ttl,
            datetime.now(UTC),
        )
        return reply, "confirmation_shown" if problem is None else "confirmation_shown_unread"

    def _ticket(self, asker: Asker, room_id: str, job_id: str) -> Ticket:
        return Ticket.issue(
            key=self._policy.ticket_key,
            room_id=room_id,
            job_id=job_id,
            requester=asker.user_id,
            channel_id=asker.channel_id,
            ttl=self._policy.confirm_ttl,
            response_url=asker.response_url,
        )

    async def _bounded(self, call: Awaitable[T]) -> T:
        return await asyncio.wait_for(call, timeout=self._policy.lookup_timeout)


def describe(exc: BaseException) -> str:
    """A failure in words for the requester or the channel (never a secret: the errors carry
    IDs, codes and MetaStudio's or IAM's own message only)."""
    if isinstance(exc, TimeoutError):
        return "MetaStudio took too long to answer"
    if isinstance(exc, MetaStudioError):
        return f"HTTP {exc.status} {exc.error_code}: {exc.error_msg}"
    if isinstance(exc, IamError):
        return f"no IAM token ({exc}); nothing was sent to MetaStudio"
    if isinstance(exc, UnreadableAnswer):
        return f"MetaStudio's answer was unreadable ({exc.detail})"
    if isinstance(exc, ValueError):
        return f"MetaStudio's answer was unreadable ({type(exc).__name__})"
    return str(exc)
