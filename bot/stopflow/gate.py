"""Who may stop what, where, with which ticket: the one check that commands and clicks share.

A command and a click on a confirmation ask the same question (may this person stop jobs in
this room, from this channel?), so both go through :meth:`Gate.admit`. A click also carries a
ticket, which must be ours (its MAC), the clicker's, for the channel it is clicked in, and
unexpired. Everything here is pure: no network, so it can answer inside Slack's 3 s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from bot.stopflow.allowlist import Grant
from bot.stopflow.command import Command, ShowHelp, StopTarget, UsageError, parse
from bot.stopflow.policy import Policy
from bot.stopflow.tickets import NotOurs, Ticket
from bot.stopflow.words import notices, to_requester
from bot.stopflow.words.markup import Reply


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
class Refusal:
    """Why a request or click goes no further: what to say, and the audit word for it."""

    reply: Reply
    outcome: str  # the audit line's outcome ("" for plain help: nothing to record)
    to_clicker: bool = False  # a new message to whoever clicked, not a change to the requester's
    detail: str = ""
    ticket: Ticket | None = None  # the click's ticket, once it is known to be ours


@dataclass(frozen=True)
class Admitted:
    """A command that passed every check needing no network."""

    target: Command
    grant: Grant


@dataclass(frozen=True)
class AdmittedClick:
    ticket: Ticket
    grant: Grant


class Gate:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def admit(self, user_id: str, channel_id: str, room_id: str | None) -> Grant | Refusal:
        """The one access check: on the allowlist, in an allowed channel, granted the room
        (``None``: no room yet, as for a list or a search; the grant filters what it finds).
        Clicks ask it again because the allowlist may have changed since the command."""
        policy = self._policy
        grant = policy.allowlist.grant_for(user_id)
        if grant is None:
            return Refusal(to_requester.not_allowed(policy.contact), "refused_not_allowlisted")
        if policy.allowed_channels and channel_id not in policy.allowed_channels:
            reply = to_requester.wrong_channel(list(policy.allowed_channels))
            return Refusal(reply, "refused_channel")
        if room_id is not None and not grant.covers(room_id):
            reply = to_requester.room_not_granted(room_id, policy.contact)
            return Refusal(reply, "refused_room")
        return grant

    def command(self, request: CommandRequest) -> Admitted | Refusal:
        """Admitted, or a refusal (help and usage included: ``outcome`` "" for plain help)."""
        try:
            parsed = parse(request.text)
        except UsageError as exc:
            return Refusal(to_requester.help_text(str(exc)), "usage_error")
        if isinstance(parsed, ShowHelp):
            return Refusal(to_requester.help_text(), "")
        room_id = parsed.room_id if isinstance(parsed, StopTarget) else None
        checked = self.admit(request.user_id, request.channel_id, room_id)
        if isinstance(checked, Refusal):
            return checked
        return Admitted(parsed, checked)

    @staticmethod
    def target_of(request: CommandRequest) -> StopTarget | None:
        try:
            parsed = parse(request.text)
        except UsageError:
            return None
        return parsed if isinstance(parsed, StopTarget) else None

    def click(
        self, click: Click, purpose: str, now: float | None = None
    ) -> AdmittedClick | Refusal:
        """A click on a confirmation (or a pick): the ticket first, then :meth:`admit`.
        ``purpose`` is the clicked button's (the listener routes each ``action_id`` to the one
        step that names it): a ticket sealed for another button is not one for this."""
        policy = self._policy
        ticket = Ticket.decode(click.value, policy.ticket_key, policy.confirm_ttl, purpose=purpose)
        if isinstance(ticket, NotOurs):
            return Refusal(
                notices.button_not_valid(),
                "refused_bad_ticket",
                to_clicker=True,
                detail=ticket.reason,
            )
        if click.user_id != ticket.requester:
            return Refusal(
                to_requester.not_yours(ticket),
                "refused_not_requester",
                to_clicker=True,
                detail=f"requested by {ticket.requester}",
                ticket=ticket,
            )
        if click.channel_id != ticket.channel_id:
            return Refusal(
                notices.wrong_place(ticket),
                "refused_other_channel",
                to_clicker=True,
                detail=f"clicked in {click.channel_id}",
                ticket=ticket,
            )
        if ticket.expired(now if now is not None else time.time()):
            return Refusal(to_requester.expired(ticket), "expired", ticket=ticket)
        checked = self.admit(ticket.requester, click.channel_id, ticket.room_id)
        if isinstance(checked, Refusal):
            return replace(checked, ticket=ticket)
        return AdmittedClick(ticket, checked)
