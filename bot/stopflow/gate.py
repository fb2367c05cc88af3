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
from bot.stopflow.command import Command, ShowHelp, StopAll, StopTarget, UsageError, parse
from bot.stopflow.policy import Policy
from bot.stopflow.tickets import APPROVE_ALL, NotOurs, Ticket


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


# Why the gate said no, with what the words need to say it: the gate decides, and
# ``words.refusals.refusal`` phrases (so the rule and the sentence change apart).


@dataclass(frozen=True)
class NotAllowlisted:
    contact: str


@dataclass(frozen=True)
class WrongChannel:
    channels: tuple[str, ...]  # sorted: the channels /stoplive works in


@dataclass(frozen=True)
class RoomNotGranted:
    room_id: str
    contact: str


@dataclass(frozen=True)
class NoStopAllGrant:
    """``/stoplive all`` (or its approval) by someone whose allowlist entry lacks
    ``"stop_all": true``."""

    contact: str


@dataclass(frozen=True)
class OwnRequest:
    """The requester of a two-person ``/stoplive all`` clicked its Approve."""

    ticket: Ticket


@dataclass(frozen=True)
class RequesterRevoked:
    """An approval of a ``/stoplive all`` whose requester may no longer stop everything."""

    ticket: Ticket


@dataclass(frozen=True)
class Usage:
    """The command could not be read; ``problem`` says why."""

    problem: str


@dataclass(frozen=True)
class Help:
    """Plain help was asked for: a refusal only in that nothing goes further."""


@dataclass(frozen=True)
class ButtonNotValid:
    """The click's value is not a ticket of ours for this button."""


@dataclass(frozen=True)
class NotYours:
    ticket: Ticket


@dataclass(frozen=True)
class WrongPlace:
    ticket: Ticket


@dataclass(frozen=True)
class Expired:
    ticket: Ticket


Reason = (
    NotAllowlisted
    | WrongChannel
    | RoomNotGranted
    | Usage
    | Help
    | ButtonNotValid
    | NotYours
    | WrongPlace
    | Expired
    | NoStopAllGrant
    | OwnRequest
    | RequesterRevoked
)


@dataclass(frozen=True)
class Refusal:
    """Why a request or click goes no further: the reason (phrased by the words), and the
    audit word for it."""

    reason: Reason
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
    grant: Grant  # the requester's: the stop is made as their MetaStudio user
    approved_by: str = ""  # a two-person /stoplive all's approver (Slack ID)
    approver_grant: Grant | None = None
    batch: str = ""  # the /stoplive all this stop is one job of (its ticket's id)


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
            return Refusal(NotAllowlisted(policy.contact), "refused_not_allowlisted")
        if policy.allowed_channels and channel_id not in policy.allowed_channels:
            channels = tuple(sorted(policy.allowed_channels))
            return Refusal(WrongChannel(channels), "refused_channel")
        if room_id is not None and not grant.covers(room_id):
            return Refusal(RoomNotGranted(room_id, policy.contact), "refused_room")
        return grant

    def command(self, request: CommandRequest) -> Admitted | Refusal:
        """Admitted, or a refusal (help and usage included: ``outcome`` "" for plain help)."""
        try:
            parsed = parse(request.text)
        except UsageError as exc:
            return Refusal(Usage(str(exc)), "usage_error")
        if isinstance(parsed, ShowHelp):
            return Refusal(Help(), "")
        room_id = parsed.room_id if isinstance(parsed, StopTarget) else None
        checked = self.admit(request.user_id, request.channel_id, room_id)
        if isinstance(checked, Refusal):
            return checked
        if isinstance(parsed, StopAll) and not checked.stop_all:
            return Refusal(NoStopAllGrant(self._policy.contact), "refused_no_stop_all")
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
        ticket = self._opened(click, purpose, now, by_requester=True)
        if isinstance(ticket, Refusal):
            return ticket
        checked = self.admit(ticket.requester, click.channel_id, ticket.room_id)
        if isinstance(checked, Refusal):
            return replace(checked, ticket=ticket)
        return AdmittedClick(ticket, checked)

    def all_click(
        self, click: Click, purpose: str, now: float | None = None
    ) -> AdmittedClick | Refusal:
        """A click on ``/stoplive all``'s buttons. The red button and the withdrawal are the
        requester's; the approval anyone's *but* the requester's. Whoever clicks, the
        requester's ``stop_all`` grant is checked again (a revoked grant applies to a button
        already on screen), and an approver needs the grant too. Rooms are the caller's to
        check against the listed set (the ticket names none)."""
        approving = purpose == APPROVE_ALL
        ticket = self._opened(click, purpose, now, by_requester=not approving)
        if isinstance(ticket, Refusal):
            return ticket
        checked = self._may_stop_all(ticket.requester, click.channel_id)
        if isinstance(checked, Refusal) and approving:  # say whose grant is missing
            return replace(checked, reason=RequesterRevoked(ticket), ticket=ticket, to_clicker=True)
        if isinstance(checked, Refusal):
            return replace(checked, ticket=ticket)
        if not approving:
            return AdmittedClick(ticket, checked)
        approver = self._may_stop_all(click.user_id, click.channel_id)
        if isinstance(approver, Refusal):
            return replace(approver, ticket=ticket, to_clicker=True)
        return AdmittedClick(ticket, checked, click.user_id, approver)

    def _may_stop_all(self, user_id: str, channel_id: str) -> Grant | Refusal:
        checked = self.admit(user_id, channel_id, None)
        if isinstance(checked, Grant) and not checked.stop_all:
            return Refusal(NoStopAllGrant(self._policy.contact), "refused_no_stop_all")
        return checked

    def _opened(
        self, click: Click, purpose: str, now: float | None, *, by_requester: bool
    ) -> Ticket | Refusal:
        """The click's ticket, if it is ours, for this button, clicked by the requester (or,
        ``by_requester`` False, by anyone else), in its channel, and unexpired."""
        policy = self._policy
        ticket = Ticket.decode(click.value, policy.ticket_key, policy.confirm_ttl, purpose=purpose)
        if isinstance(ticket, NotOurs):
            return Refusal(
                ButtonNotValid(),
                "refused_bad_ticket",
                to_clicker=True,
                detail=ticket.reason,
            )
        if by_requester and click.user_id != ticket.requester:
            return Refusal(
                NotYours(ticket),
                "refused_not_requester",
                to_clicker=True,
                detail=f"requested by {ticket.requester}",
                ticket=ticket,
            )
        if not by_requester and click.user_id == ticket.requester:
            return Refusal(
                OwnRequest(ticket), "refused_own_request", to_clicker=True, ticket=ticket
            )
        if click.channel_id != ticket.channel_id:
            return Refusal(
                WrongPlace(ticket),
                "refused_other_channel",
                to_clicker=True,
                detail=f"clicked in {click.channel_id}",
                ticket=ticket,
            )
        if ticket.expired(now if now is not None else time.time()):
            return Refusal(Expired(ticket), "expired", to_clicker=not by_requester, ticket=ticket)
        return ticket
