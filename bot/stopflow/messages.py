"""The words stoplive says, one function per message.

Requester-only (ephemeral) messages come first, channel announcements last. Each returns a
:class:`~bot.stopflow.markup.Reply`; nothing here talks to Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import SmartLiveJob
from bot.stopflow.markup import (
    Reply,
    button,
    clock,
    code,
    context,
    escape,
    job_facts,
    mention,
    section,
    span,
    where,
)
from bot.stopflow.outcome import Outcome, Verdict
from bot.stopflow.tickets import Ticket

CONFIRM_ACTION = "stoplive.confirm"
CANCEL_ACTION = "stoplive.cancel"
PICK_ACTION = "stoplive.pick"

EXAMPLE = "/stoplive 24bad716-87b1-45e5-8912-6102f7693265 26f06524-4f75-4b3a-a853-b649a21aaf66"


def help_text(problem: str | None = None) -> Reply:
    lines = [
        f":warning: {escape(problem)}" if problem else "*stoplive* stops a MetaStudio livestream.",
        "*Usage:* `/stoplive <room_id> <job_id>` stops that job, after you confirm.",
        "`/stoplive <room_id>` lists the room's live jobs so you can pick one.",
        f"*Example:* `{EXAMPLE}`",
    ]
    return Reply(text="\n".join(lines), blocks=[section("\n".join(lines))])


def not_allowed(contact: str) -> Reply:
    text = (
        ":no_entry: Sorry, you are not on the stoplive allowlist, so I can't stop streams for "
        f"you. Ask {escape(contact)} to add your Slack user ID. Nothing was stopped."
    )
    return Reply(text=text)


def wrong_channel(allowed: Sequence[str]) -> Reply:
    channels = ", ".join(f"<#{c}>" for c in sorted(allowed))
    return Reply(text=f":no_entry: /stoplive works only in {channels}. Nothing was stopped.")


def room_not_granted(room_id: str, contact: str) -> Reply:
    return Reply(
        text=f":no_entry: You may not stop streams in room {code(room_id)}. "
        f"Ask {escape(contact)} if you need to. Nothing was stopped."
    )


def job_missing(room_id: str, job_id: str, error: MetaStudioError) -> Reply:
    return Reply(
        text=f":mag: MetaStudio has no job {code(job_id)} in room {code(room_id)} "
        f"({_error_line(error)}, request {code(error.request_id or 'n/a')}). Check the IDs; `/stoplive {escape(room_id)}` lists the "
        "room's live jobs. Nothing was stopped."
    )


def job_not_live(job: SmartLiveJob, now: datetime) -> Reply:
    return Reply(
        text=f":white_check_mark: Job {code(job.job_id)} in {where(job.room_id or '', job.room_name)} "
        f"is not live: {job_facts(job, now)}. There is nothing to stop."
    )


def no_live_jobs(room_id: str, room_name: str | None) -> Reply:
    return Reply(
        text=f":white_check_mark: No live job (WAITING or PROCESSING) in {where(room_id, room_name)}. "
        "There is nothing to stop."
    )


def room_unreadable(room_id: str, problem: str) -> Reply:
    return Reply(
        text=f":warning: I couldn't list the jobs of room {code(room_id)}: {escape(problem)}. "
        f"If you know the job ID, use `/stoplive {escape(room_id)} <job_id>`."
    )


def confirmation(
    ticket: Ticket,
    app_user: str,
    job: SmartLiveJob | None,
    lookup_problem: str | None,
    ttl: int,
    now: datetime,
) -> Reply:
    room_name = job.room_name if job else None
    lines = [
        ":rotating_light: *Stop this livestream?*",
        f"*Room:* {code(ticket.room_id)}" + (f" ({escape(room_name)})" if room_name else ""),
        f"*Job:* {code(ticket.job_id)}",
    ]
    if job is not None:
        lines.append(job_facts(job, now))
    if lookup_problem:
        lines.append(
            f":warning: I couldn't read the job ({escape(lookup_problem)}); you can still stop it."
        )
    blocks = [
        section("\n".join(lines)),
        context(
            f"Stops as MetaStudio user {code(app_user)} · this button works for you only, "
            f"for {span(ttl)}, once. The channel will see the result."
        ),
        {
            "type": "actions",
            "block_id": "stoplive.confirmation",
            "elements": [
                button("Stop stream", CONFIRM_ACTION, ticket.encode(), style="danger"),
                button("Cancel", CANCEL_ACTION, ticket.encode()),
            ],
        },
    ]
    return Reply(
        text=f"Stop job {ticket.job_id} in room {ticket.room_id}? Confirm or cancel.", blocks=blocks
    )


def picker(room_id: str, choices: Sequence[tuple[SmartLiveJob, Ticket]], now: datetime) -> Reply:
    room_name = choices[0][0].room_name if choices else None
    blocks = [
        section(f"*{len(choices)} live jobs in {where(room_id, room_name)}.* Pick the one to stop:")
    ]
    for job, ticket in choices:
        block = section(f"{code(job.job_id)}\n{job_facts(job, now)}")
        block["accessory"] = button("Stop…", PICK_ACTION, ticket.encode(), style="danger")
        blocks.append(block)
    blocks.append(context("You will confirm on the next screen. Nothing is stopped yet."))
    return Reply(
        text=f"{len(choices)} live jobs in room {room_id}: pick one to stop.", blocks=blocks
    )


def stopping(ticket: Ticket) -> Reply:
    return Reply(
        text=f":hourglass_flowing_sand: Stopping job {code(ticket.job_id)} in room "
        f"{code(ticket.room_id)}… the result will be posted in the channel."
    )


def cancelled(ticket: Ticket) -> Reply:
    return Reply(
        text=f":x: Cancelled. Job {code(ticket.job_id)} in room {code(ticket.room_id)} keeps running."
    )


def expired(ticket: Ticket) -> Reply:
    return Reply(
        text=f":hourglass: This confirmation expired, so nothing was stopped. Run "
        f"`/stoplive {escape(ticket.room_id)} {escape(ticket.job_id)}` again if you still need to."
    )


def not_yours(ticket: Ticket) -> Reply:
    return Reply(
        text=f":no_entry: Only {mention(ticket.requester)} can confirm this stop. Run /stoplive "
        "yourself if you need to stop it. Nothing was stopped."
    )


def broken_button() -> Reply:
    return Reply(
        text=":warning: I can't read this button any more. Run /stoplive again. Nothing was stopped."
    )


# --- In the channel ----------------------------------------------------------------------


def stop_sent(ticket: Ticket, answered: bool) -> Reply:
    """Posted as soon as the stop call returns; revised in place once the job is seen."""
    status = "MetaStudio accepted the stop" if answered else "MetaStudio did not answer the stop"
    return Reply(
        text=f":hourglass_flowing_sand: {mention(ticket.requester)} is stopping job "
        f"{code(ticket.job_id)} in room {code(ticket.room_id)}. {status}; checking the job…"
    )


def announcement(outcome: Outcome) -> Reply:
    """The one channel message that tells the truth about a confirmed stop."""
    t = outcome.ticket
    who, job = mention(t.requester), code(t.job_id)
    room = where(t.room_id, outcome.job.room_name if outcome.job else None)
    rid = (
        f"MetaStudio request {code(outcome.request_id)}" if outcome.request_id else "no request ID"
    )
    if outcome.verdict is Verdict.STOPPED:
        head = f":octagonal_sign: {who} stopped job {job} in {room}."
        detail = _ended_line(outcome)
        if not outcome.answered:
            detail += " (The stop's answer was lost; the job's state confirms it.)"
    elif outcome.verdict is Verdict.STILL_LIVE:
        state = escape(outcome.job.state if outcome.job else "live")
        if outcome.answered:
            head = f":warning: {who} asked to stop job {job} in {room}: the stop was accepted, "
        else:
            head = f":warning: {who} asked to stop job {job} in {room}: MetaStudio did not answer, "
        head += f"but the job is still {state} after {span(outcome.waited)}."
        detail = "It may not have stopped. Check the MetaStudio console or run /stoplive again."
    elif outcome.verdict is Verdict.REFUSED:
        assert outcome.error is not None
        head = f":x: {who} tried to stop job {job} in {room}, but MetaStudio refused. Nothing was stopped."
        detail = _error_line(outcome.error)
    else:
        head = f":question: {who} asked to stop job {job} in {room}, and the outcome is unknown."
        said = "MetaStudio accepted the stop" if outcome.answered else "No answer from MetaStudio"
        detail = (
            f"{said}, but the job could not be read to confirm it ended "
            f"({escape(outcome.problem)}). Check the MetaStudio console before trying again."
        )
    footer = f"As MetaStudio user {code(outcome.app_user)} · {rid}"
    return Reply(text=f"{head} {detail}", blocks=[section(f"{head}\n{detail}"), context(footer)])


def _ended_line(outcome: Outcome) -> str:
    job = outcome.job
    if job is None:
        return "The job has ended."
    ended, started = job.ended_at, job.started_at
    when = f"ended {clock(ended)}" if ended else f"is now {escape(job.state)}"
    length = f" after {span((ended - started).total_seconds())}" if ended and started else ""
    return f"The job {when}{length}."


def _error_line(error: MetaStudioError) -> str:
    return f"HTTP {error.status} {code(error.error_code)}: {escape(error.error_msg)}"
