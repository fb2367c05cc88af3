"""The outcome message's buttons: "Check again" (read the job, say it to the clicker) and "Stop
again" (a fresh confirmation for the clicker).

Anyone in the channel can click a channel message's button, so each click goes through the
same :meth:`~bot.stopflow.gate.Gate.admit` as ``/stoplive`` (allowlist, channel, room), and the
job is read as the *clicker's* MetaStudio user. "Stop again" stops nothing itself: it answers
with the same sealed, once-only, expiring confirmation ``/stoplive`` gives, issued to the
clicker, so every rule of a stop still holds.

A button's value is the room and job ID (``"<room_id> <job_id>"``), checked as strictly as
typed IDs before it comes near a URL: the value is only ever a request to *look*, and looking
needs the clicker's own grant.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.metastudio import MetaStudioClient
from bot.metastudio.ids import InvalidId, check_resource_id, path_segment
from bot.stopflow import messages, notices
from bot.stopflow.allowlist import Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.gate import Click, Gate, Refusal
from bot.stopflow.outcome import Outcome
from bot.stopflow.outlet import Outlet
from bot.stopflow.policy import Policy
from bot.stopflow.requests import LOOKUP_FAILURES, Asker, RequestDesk, describe


@dataclass(frozen=True)
class JobRef:
    room_id: str
    job_id: str

    def encode(self) -> str:
        """The value of a "Check again" or "Stop again" button."""
        return f"{self.room_id} {self.job_id}"

    @classmethod
    def decode(cls, value: str) -> JobRef | None:
        """The room and job a button names; None unless both are well-formed IDs."""
        parts = value.split(" ")
        if len(parts) != 2:
            return None
        try:
            return cls(check_resource_id("room", parts[0]), check_resource_id("job", parts[1]))
        except InvalidId:
            return None


@dataclass(frozen=True)
class OutcomeButtons:
    """What the outcome message's buttons carry: the console link (from the
    ``STOPLIVE_CONSOLE_URL`` template, already checked by the settings) and the job's
    reference for "Check again", and for "Stop again" while the job is seen live."""

    console_template: str | None = None
    region: str = ""
    project_id: str = ""

    def console_url(self, room_id: str, job_id: str) -> str | None:
        if not self.console_template:
            return None
        return self.console_template.format(
            region=path_segment(self.region),
            project_id=path_segment(self.project_id),
            room_id=path_segment(room_id),
            job_id=path_segment(job_id),
        )

    def for_outcome(self, outcome: Outcome) -> dict[str, str | None]:
        """Keyword arguments for :func:`~bot.stopflow.messages.announcement`."""
        t = outcome.ticket
        ref = JobRef.decode(f"{t.room_id} {t.job_id}")
        live = outcome.job is not None and outcome.job.is_live
        return {
            "console_url": self.console_url(t.room_id, t.job_id),
            "check_value": ref.encode() if ref else None,
            "stop_value": ref.encode() if ref and live else None,
        }


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
            job = await asyncio.wait_for(
                self._metastudio.get_job(ref.room_id, ref.job_id, app_user),
                timeout=self._policy.lookup_timeout,
            )
        except LOOKUP_FAILURES as exc:
            reply, outcome = (
                messages.job_unchecked(ref.room_id, ref.job_id, describe(exc)),
                "unread",
            )
        else:
            reply = messages.job_now(job, datetime.now(UTC), stop_value=ref.encode())
            outcome = "live" if job.is_live else "not_live"
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
            await outlet.to_clicker(checked.reply)
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
