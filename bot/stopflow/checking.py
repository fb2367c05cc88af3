"""The outcome message's buttons: "Check again" (read the job, say it to the clicker) and "Stop
again" (a fresh confirmation for the clicker). A stream watch note's "Stop…" is the same button
(one way to be offered a confirmation from a channel message, one gate).

Anyone in the channel can click a channel message's button, so each click goes through the
same :meth:`~bot.stopflow.gate.Gate.admit` as ``/stoplive`` (allowlist, channel, room), and the
job is read as the *clicker's* MetaStudio user. "Stop again" stops nothing itself: it answers
with the same sealed, once-only, expiring confirmation ``/stoplive`` gives, issued to the
clicker, so every rule of a stop still holds.

A button's value is a :class:`~bot.stopflow.buttons.JobRef`: only ever a request to *look*
(or to be asked to confirm), and either needs the clicker's own grant.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from bot.metastudio import CALL_FAILURES, MetaStudioClient, describe
from bot.stopflow.allowlist import Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.buttons import JobRef
from bot.stopflow.desk import Asker, RequestDesk
from bot.stopflow.gate import Click, Gate, Refusal
from bot.stopflow.outlet import Outlet
from bot.stopflow.policy import Policy
from bot.stopflow.words import notices, refusals, to_requester


class JobChecks:
    def __init__(
        self,
        policy: Policy,
        gate: Gate,
        metastudio: MetaStudioClient,
        desk: RequestDesk,
        audit: AuditLog,
    ) -> None:
        self._policy = policy
        self._gate = gate
        self._metastudio = metastudio
        self._desk = desk
        self._audit = audit

    async def check_again(self, click: Click, outlet: Outlet) -> None:
        """Read the job as the clicker and tell them (only them) its state in plain words."""
        started = time.monotonic()
        admitted = await self._admit("check_again", click, outlet, started)
        if admitted is None:
            return
        ref, grant = admitted
        app_user = grant.app_user_id
        try:
            async with asyncio.timeout(self._policy.lookup_timeout):
                job = await self._metastudio.get_job(ref.room_id, ref.job_id, app_user)
        except CALL_FAILURES as exc:
            reply, outcome = (
                to_requester.job_unchecked(ref.room_id, ref.job_id, describe(exc)),
                "unread",
            )
        else:
            reply = to_requester.job_now(job, datetime.now(UTC), stop_value=ref.encode())
            outcome = "live" if job.is_live else "not_live" if job.has_ended else "unknown_state"
        await outlet.to_clicker(reply)
        self._record("check_again", click, ref, app_user, outcome, started)

    async def stop_again(self, click: Click, outlet: Outlet, response_url: str) -> None:
        """A new confirmation, for the clicker, to stop the job again (they confirm first).
        ``response_url`` is the click's: the confirmed stop's way into the channel if the bot
        may not post there."""
        started = time.monotonic()
        admitted = await self._admit("stop_again", click, outlet, started)
        if admitted is None:
            return
        ref, grant = admitted
        asker = Asker(click.user_id, click.channel_id, response_url, grant)
        reply, outcome = await self._desk.confirmation(asker, ref.room_id, ref.job_id)
        await outlet.to_clicker(reply)
        self._record("stop_again", click, ref, grant.app_user_id, outcome, started)

    async def _admit(
        self, event: str, click: Click, outlet: Outlet, started: float
    ) -> tuple[JobRef, Grant] | None:
        ref = JobRef.decode(click.value)
        if ref is None:
            await outlet.to_clicker(notices.button_not_valid())
            self._audit.record(
                event,
                slack_user=click.user_id,
                channel=click.channel_id,
                outcome="refused_bad_button",
                started=started,
            )
            return None
        checked = self._gate.admit(click.user_id, click.channel_id, ref.room_id)
        if isinstance(checked, Refusal):
            await outlet.to_clicker(refusals.refusal(checked.reason))
            self._record(event, click, ref, None, checked.outcome, started)
            return None
        return ref, checked

    def _record(
        self,
        event: str,
        click: Click,
        ref: JobRef,
        app_user: str | None,
        outcome: str,
        started: float,
    ) -> None:
        self._audit.record(
            event,
            slack_user=click.user_id,
            channel=click.channel_id,
            outcome=outcome,
            app_user=app_user,
            room=ref.room_id,
            job=ref.job_id,
            started=started,
        )
