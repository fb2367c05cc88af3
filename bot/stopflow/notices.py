"""Words for what the hardened stop flow can now say and ``messages`` does not say yet.

Kept apart so the wording of these cases can move into ``messages`` in one piece: each function
returns a :class:`~bot.stopflow.markup.Reply`, and :func:`announcement` picks between these and
``messages.announcement`` by verdict, so callers ask one place for the channel's words.
"""

from __future__ import annotations

from bot.stopflow import messages
from bot.stopflow.markup import Reply, code, context, escape, mention, section
from bot.stopflow.outcome import Outcome, Verdict
from bot.stopflow.tickets import Ticket

_SAID_BY_MESSAGES = frozenset(
    {Verdict.STOPPED, Verdict.STILL_LIVE, Verdict.REFUSED, Verdict.UNKNOWN}
)


def button_not_valid() -> Reply:
    return Reply(
        text=":warning: This button is not valid any more. Run /stoplive again if you still "
        "need to stop a stream. Nothing was stopped."
    )


def wrong_place(ticket: Ticket) -> Reply:
    return Reply(
        text=f":no_entry: This confirmation was made in <#{ticket.channel_id}> and works there "
        "only. Nothing was stopped."
    )


def already_used() -> Reply:
    return Reply(
        text=":information_source: This confirmation was already used (confirmed or "
        "cancelled), so this click did nothing."
    )


def already_stopping(ticket: Ticket, holder: str) -> Reply:
    return Reply(
        text=f":hourglass_flowing_sand: {mention(holder)} is already stopping job "
        f"{code(ticket.job_id)} in room {code(ticket.room_id)}; the result will be posted in "
        "the channel. I did not send a second stop."
    )


def cannot_confirm_safely() -> Reply:
    return Reply(
        text=":warning: I can't confirm a stop safely right now (my state store is not "
        "answering), so nothing was stopped. Try again in a minute, or stop the job in the "
        "MetaStudio console."
    )


def announcement(outcome: Outcome) -> Reply:
    """The one channel message that tells the truth about a confirmed stop."""
    if outcome.verdict in _SAID_BY_MESSAGES:
        return messages.announcement(outcome)
    t = outcome.ticket
    who, job, room = mention(t.requester), code(t.job_id), f"room {code(t.room_id)}"
    check = f"`/stoplive {escape(t.room_id)} {escape(t.job_id)}`"
    sent = "MetaStudio accepted it" if outcome.answered else "MetaStudio did not answer it"
    state = escape(outcome.job.state) if outcome.job else "unknown (it could not be read)"
    if outcome.verdict is Verdict.IAM_FAILED:
        error = outcome.iam_error
        said = escape(str(error)) if error else "no token"
        head = f":x: {who} tried to stop job {job} in {room}, but Huawei Cloud IAM gave no token."
        detail = (
            f"Nothing was sent to MetaStudio, so nothing was stopped ({said}). Check the IAM "
            "user, password and domain (HUAWEICLOUD_IAM_*), then try again."
        )
    elif outcome.verdict is Verdict.UNREADABLE:
        head = f":question: {who} asked to stop job {job} in {room}, and MetaStudio's answer was unreadable."
        detail = (
            f"It answered, but not in the documented form ({escape(outcome.problem)}), so I "
            f"cannot say whether the job stopped. Check the MetaStudio console or run {check}."
        )
    elif outcome.verdict is Verdict.NOT_SENT:
        head = f":warning: {who} confirmed a stop of job {job} in {room}, but it was never sent."
        detail = (
            f"stoplive stopped before sending it. The job is {state}. Run {check} again if it "
            "still needs stopping."
        )
    else:  # SHUT_DOWN
        head = f":warning: {who} asked to stop job {job} in {room}: the stop was sent ({sent})."
        detail = (
            f"The job was still {state} when stoplive shut down, so I could not see it end. "
            f"Check the MetaStudio console or run {check} to see its state."
        )
    rid = (
        f"MetaStudio request {code(outcome.request_id)}" if outcome.request_id else "no request ID"
    )
    footer = f"As MetaStudio user {code(outcome.app_user)} · {rid}"
    return Reply(text=f"{head} {detail}", blocks=[section(f"{head}\n{detail}"), context(footer)])
