"""The requester's refusals and help: the gate decides (a typed :data:`~bot.stopflow.gate.Reason`),
:func:`refusal` phrases it. Each says what happened first, then what to do; every piece of
foreign text goes through :func:`~bot.stopflow.words.markup.data`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.stopflow.gate import (
    ButtonNotValid,
    Expired,
    Help,
    NoStopAllGrant,
    NotAllowlisted,
    NotYours,
    OwnRequest,
    Reason,
    RequesterRevoked,
    RoomNotGranted,
    Usage,
    WrongChannel,
    WrongPlace,
)
from bot.stopflow.tickets import ALL_PURPOSES, Ticket
from bot.stopflow.words import notices
from bot.stopflow.words.common import _MAX_CHANNELS_LISTED, EXAMPLE, _command
from bot.stopflow.words.markup import (
    ID_CAP,
    MESSAGE_CAP,
    NAME_CAP,
    Reply,
    channel,
    data,
    join,
    mention,
    section,
    words,
)


def refusal(reason: Reason) -> Reply:
    """The one way a gate's refusal is said: the gate decides, these words phrase it."""
    match reason:
        case NotAllowlisted(contact):
            return not_allowed(contact)
        case WrongChannel(channels):
            return wrong_channel(channels)
        case RoomNotGranted(room_id, contact):
            return room_not_granted(room_id, contact)
        case Usage(problem):
            return help_text(problem)
        case Help():
            return help_text()
        case ButtonNotValid():
            return notices.button_not_valid()
        case NotYours(ticket):
            return not_yours(ticket)
        case WrongPlace(ticket):
            return notices.wrong_place(ticket)
        case Expired(ticket):
            return expired(ticket)
        case NoStopAllGrant(contact):
            return no_stop_all_grant(contact)
        case OwnRequest(ticket):
            return own_request(ticket)
        case RequesterRevoked(ticket):
            return requester_revoked(ticket)


def help_text(problem: str | None = None) -> Reply:
    first = (
        words("⚠️ Not understood: {p}", p=data(problem, MESSAGE_CAP))
        if problem is not None
        else words("*stoplive* stops a MetaStudio livestream, after you confirm.")
    )
    body = words(
        "{first}\n*Usage:* `/stoplive` lists every live job you may stop, by room "
        "(`/stoplive list` too).\n"
        "`/stoplive <words of a room name>` finds the room: one live job goes straight to "
        "its confirmation, several are listed.\n"
        "`/stoplive <room_id>` lists the room's live jobs so you can choose one.\n"
        "`/stoplive <room_id> <job_id>` stops that job, after you confirm.\n"
        "`/stoplive recent` shows you the stops of the last 24 h (the app's Home tab too).\n"
        "`/stoplive all` stops every live job you may stop, after you confirm (it needs the "
        "stop-all grant; `all` is never a room-name search).\n"
        "An ID is a UUID as MetaStudio writes it (`24bad716-87b1-45e5-8912-6102f7693265`, "
        "or 32 hex digits); anything else is words of a room name.\n"
        "*Example:* `/stoplive spring sale` or `" + EXAMPLE + "`",
        first=first,
    )
    return Reply(text=body, blocks=[section(body)])


def not_allowed(contact: str) -> Reply:
    return Reply(
        text=words(
            "⛔ Not allowed: you are not on the stoplive allowlist, so I can't stop streams for "
            "you. Ask {c} to add your Slack user ID. Nothing was stopped.",
            c=data(contact, NAME_CAP),
        )
    )


def wrong_channel(allowed: Sequence[str]) -> Reply:
    ordered = sorted(allowed)
    shown = [channel(c) for c in ordered[:_MAX_CHANNELS_LISTED]]
    if len(ordered) > _MAX_CHANNELS_LISTED:
        shown.append(words(f"and {len(ordered) - _MAX_CHANNELS_LISTED} more"))
    return Reply(
        text=words(
            "⛔ Wrong channel: /stoplive works only in {c}. Nothing was stopped.",
            c=join(", ", shown),
        )
    )


def room_not_granted(room_id: str, contact: str) -> Reply:
    return Reply(
        text=words(
            "⛔ Not allowed: you may not stop streams in room {r}. Ask {c} if you need to. "
            "Nothing was stopped.",
            r=data(room_id, ID_CAP),
            c=data(contact, NAME_CAP),
        )
    )


def expired(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "⌛ Expired: this confirmation expired, so nothing was stopped. Run {cmd} again if "
            "you still need to.",
            cmd=_command("all")
            if ticket.purpose in ALL_PURPOSES
            else _command(ticket.room_id, ticket.job_id),
        )
    )


def no_stop_all_grant(contact: str) -> Reply:
    return Reply(
        text=words(
            "⛔ Not allowed: stopping every live stream at once needs the stop-all grant in the "
            "allowlist, and you don't have it. Stop streams one at a time with /stoplive, or ask "
            "{c}. Nothing was stopped.",
            c=data(contact, NAME_CAP),
        )
    )


def own_request(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "⛔ Not yours to approve: {who} asked to stop everything, so a second person with the "
            "stop-all grant must approve. Nothing was stopped.",
            who=mention(ticket.requester),
        )
    )


def not_yours(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "⛔ Not yours: only {who} can confirm this stop. Run /stoplive yourself if you need "
            "to stop it. Nothing was stopped.",
            who=mention(ticket.requester),
        )
    )


def requester_revoked(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "⛔ Not approved: {who} may no longer stop everything from here (their access "
            "changed since they asked), so this request cannot go ahead. Nothing was stopped.",
            who=mention(ticket.requester),
        )
    )
