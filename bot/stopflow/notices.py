"""Words for what the hardened stop flow can say and ``messages`` does not say yet.

Kept apart so their wording can move into ``messages`` in one piece: each function returns a
:class:`~bot.stopflow.markup.Reply` built from the same markup pieces as ``messages`` (foreign
text only through ``data``), and :func:`announcement` picks between these and
``messages.announcement`` by verdict, so callers ask one place for the channel's words.
"""

from __future__ import annotations

from bot.stopflow import messages
from bot.stopflow.markup import (
    ID_CAP,
    MESSAGE_CAP,
    Mrkdwn,
    Reply,
    channel,
    context,
    data,
    join,
    mention,
    room_label,
    section,
    state_word,
    words,
)
from bot.stopflow.outcome import Outcome, Verdict
from bot.stopflow.tickets import Ticket

_SAID_BY_MESSAGES = frozenset(
    {Verdict.STOPPED, Verdict.STILL_LIVE, Verdict.REFUSED, Verdict.UNKNOWN}
)


def button_not_valid() -> Reply:
    return Reply(
        text=words(
            "⚠️ This button is not valid any more. Run /stoplive again if you still need to "
            "stop a stream. Nothing was stopped."
        )
    )


def wrong_place(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "⛔ This confirmation was made in {c} and works there only. Nothing was stopped.",
            c=channel(ticket.channel_id),
        )
    )


def already_used() -> Reply:
    return Reply(
        text=words(
            "⛔ This confirmation was already used (confirmed or cancelled), so this click did "
            "nothing."
        )
    )


def already_stopping(ticket: Ticket, holder: str) -> Reply:
    return Reply(
        text=words(
            "⏳ {who} is already stopping job {j} in room {r}; the result will be posted in the "
            "channel. I did not send a second stop.",
            who=mention(holder),
            j=data(ticket.job_id, ID_CAP),
            r=data(ticket.room_id, ID_CAP),
        )
    )


def cannot_confirm_safely() -> Reply:
    return Reply(
        text=words(
            "⚠️ I can't confirm a stop safely right now (my state store is not answering), so "
            "nothing was stopped. Try again in a minute, or stop the job in the MetaStudio "
            "console."
        )
    )


def announcement(outcome: Outcome) -> Reply:
    """The one channel message that tells the truth about a confirmed stop."""
    if outcome.verdict in _SAID_BY_MESSAGES:
        return messages.announcement(outcome)
    t = outcome.ticket
    room = room_label(t.room_id, outcome.job.room_name if outcome.job else None)
    who = mention(t.requester)
    check = data(f"/stoplive {t.room_id} {t.job_id}", 200)
    if outcome.verdict is Verdict.IAM_FAILED:
        head = words("❌ Not sent: IAM gave no token · {room} · by {who}", room=room, who=who)
        detail = words(
            "Huawei Cloud IAM refused or could not be reached ({why}), so nothing was sent to "
            "MetaStudio and nothing was stopped. Check the IAM user, password and domain "
            "(HUAWEICLOUD_IAM_*), then try again.",
            why=data(outcome.problem, MESSAGE_CAP),
        )
    elif outcome.verdict is Verdict.UNREADABLE:
        head = words("❓ Answer unreadable · {room} · stop asked by {who}", room=room, who=who)
        detail = words(
            "MetaStudio answered, but its answer was unreadable ({why}), so I cannot say "
            "whether the job stopped. Check MetaStudio, or run {check} to see its state.",
            why=data(outcome.problem, MESSAGE_CAP),
            check=check,
        )
    else:  # SHUT_DOWN
        said = "MetaStudio accepted it" if outcome.answered else "MetaStudio did not answer it"
        state = (
            words("{w} ({s})", w=words(state_word(outcome.job)), s=data(outcome.job.state, ID_CAP))
            if outcome.job
            else words("unread")
        )
        head = words("⚠️ Unconfirmed · {room} · stop asked by {who}", room=room, who=who)
        detail = words(
            "The stop was sent (" + said + "), but the job was still {state} when stoplive "
            "shut down. Check MetaStudio, or run {check} to see its state.",
            state=state,
            check=check,
        )
    small = join(
        " · ",
        [
            words("Room {r}", r=data(t.room_id, ID_CAP)),
            words("Job {j}", j=data(t.job_id, ID_CAP)),
            words("MetaStudio user {u}", u=data(outcome.app_user, ID_CAP)),
            _request(outcome.request_id),
        ],
    )
    body = words("{h}\n{d}", h=head, d=detail)
    return Reply(text=words("{b}\n{s}", b=body, s=small), blocks=[section(body), context(small)])


def _request(request_id: str) -> Mrkdwn:
    if not request_id:
        return words("no MetaStudio request ID")
    return words("MetaStudio request {r}", r=data(request_id, ID_CAP))
