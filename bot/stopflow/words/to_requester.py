"""The words only the requester sees (ephemeral): the confirmation, the picker, what a
lookup found, and the notes that answer a click (help and refusals: :mod:`refusals`).

Written for a responder who reads for two seconds: the first line says what happened, verdict
word first, with an emoji that matches the severity and words beside it; full IDs, the
MetaStudio user, the request ID and MetaStudio's raw state follow in small print (copyable,
searchable). Each returns a :class:`~bot.stopflow.words.markup.Reply`; nothing here talks to
Slack, and every piece of foreign text goes through :func:`~bot.stopflow.words.markup.data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import Liveness, SmartLiveJob
from bot.stopflow.outcome import Outcome
from bot.stopflow.tickets import Ticket
from bot.stopflow.words.actions import CANCEL_ACTION, CONFIRM_ACTION, PICK_ACTION
from bot.stopflow.words.common import (
    _choice,
    _command,
    _ids,
    _more,
    _reply,
    _seen,
    _state,
    _unknown_state,
)
from bot.stopflow.words.markup import (
    ID_CAP,
    MAX_BLOCKS,
    MAX_BUTTON_VALUE,
    MESSAGE_CAP,
    Block,
    Reply,
    actions,
    button,
    channel,
    clock,
    context,
    data,
    job_facts,
    join,
    one_line,
    room_label,
    section,
    state_word,
    words,
)
from bot.stopflow.words.to_channel import _error_small, _head, _request, outcome_actions


def job_missing(
    room_id: str,
    job_id: str,
    error: MetaStudioError,
    choices: Sequence[tuple[SmartLiveJob, str]] = (),
    now: datetime | None = None,
) -> Reply:
    """MetaStudio answered the job read with a refusal (404, or the 400 ``MSS.00000003`` it
    gives for an unknown room or job): the job's state is unknown, so no Stop button. Most
    often the two IDs were swapped, so say so, and offer the room's live jobs (``choices``:
    each with its "Choose" button value) when there are any."""
    j, r = data(job_id, ID_CAP), data(room_id, ID_CAP)
    head = (
        words("🔍 Not found: MetaStudio has no job {j} in room {r}. Nothing was stopped.", j=j, r=r)
        if error.status == 404
        else words(
            "🔍 MetaStudio would not read job {j} in room {r}: it answered {said}. So I can't "
            "tell whether the job is live, and offer no Stop button. Nothing was stopped.",
            j=j,
            r=r,
            said=_error_small(error),
        )
    )
    fits = MAX_BLOCKS - 4  # verdict, small print, "The room has…", "…and N more"
    count = len(choices)
    offered = [_choice(job, value, now or datetime.now(UTC)) for job, value in choices[:fits]]
    if offered:
        intro = words(f"The room has {count} live job{'s' if count != 1 else ''}:")
        offered = [section(intro), *offered, *_more(count - len(offered), room_id)]
    return _reply(
        head,
        words(
            "Did you swap the IDs? The room ID comes first, then the job ID. {cmd} lists the "
            "room's live jobs, or {find} finds it by name.",
            cmd=_command(room_id),
            find=_command("<words of the room name>"),
        ),
        join(" · ", [_error_small(error), _request(error.request_id)]),
        *offered,
    )


def job_not_live(
    job: SmartLiveJob,
    now: datetime,
    live: SmartLiveJob | None = None,
    pick_value: str | None = None,
) -> Reply:
    """The job has ended: when, and (``live``, with its "Choose" button value) the job that
    is live in the same room now, since that is most likely the one meant."""
    offer: list[Block] = []
    if live is not None and pick_value is not None and len(pick_value) <= MAX_BUTTON_VALUE:
        started = live.started_at
        since = words(", started {t}", t=clock(started)) if started else words("")
        offer.append(
            section(
                words(
                    "{room} has another live stream{since}: job {j}.",
                    room=room_label(live.room_id or "", live.room_name or job.room_name),
                    since=since,
                    j=data(live.job_id, ID_CAP),
                ),
                accessory=button(
                    "Stop that one…",
                    PICK_ACTION,
                    pick_value,
                    accessibility_label=f"Stop job {one_line(live.job_id)} (you confirm first)",
                ),
            )
        )
    return _reply(
        words(
            "✅ Already ended: {room} is not live ({w}), so there is nothing to stop.",
            room=room_label(job.room_id or "", job.room_name),
            w=words(state_word(job)),
        ),
        job_facts(job, now),
        _ids(job.room_id or "", job.job_id, _state(job)),
        *offer,
    )


def no_live_jobs(room_id: str, room_name: str | None) -> Reply:
    return _reply(
        words(
            "✅ No live job in {room} (nothing Starting or Live): there is nothing to stop.",
            room=room_label(room_id, room_name),
        ),
        None,
        _ids(room_id),
    )


def room_unreadable(room_id: str, problem: str) -> Reply:
    return _reply(
        words(
            "⚠️ Couldn't list the jobs of room {r}: {p}",
            r=data(room_id, ID_CAP),
            p=data(problem, MESSAGE_CAP),
        ),
        words(
            "If you know the job ID, use {cmd}. Nothing was stopped.",
            cmd=_command(room_id, "<job_id>"),
        ),
        None,
    )


def job_in_another_room(room_id: str, job_id: str) -> Reply:
    """MetaStudio answered a read of this room's job about a job of another room. No button,
    for anyone: a stop sent under this room might end that other room's stream. The other
    room is not named (the requester may have no access to it)."""
    return _reply(
        words(
            "⛔ Not stopping: MetaStudio says job {j} is not in room {r}.",
            j=data(job_id, ID_CAP),
            r=data(room_id, ID_CAP),
        ),
        words(
            "Check both IDs (MetaStudio's console shows each job's room), or use {cmd} to "
            "see the room's live jobs. Nothing was stopped.",
            cmd=_command(room_id),
        ),
        _ids(room_id, job_id),
    )


def job_room_unproven(room_id: str, job_id: str, problem: str) -> Reply:
    """The read failed, and the requester may stop jobs in some rooms only: without a read
    that shows the job in their room, no Stop button (for anyone else, the stop is offered
    anyway: see :func:`confirmation`)."""
    return _reply(
        words(
            "⚠️ I couldn't read job {j} ({p}), so I can't check that it is in room {r}.",
            j=data(job_id, ID_CAP),
            p=data(problem, MESSAGE_CAP),
            r=data(room_id, ID_CAP),
        ),
        words(
            "Your access covers some rooms only, so a stop needs that check first. Try again "
            "in a moment, or use {cmd} to see the room's live jobs. Nothing was stopped.",
            cmd=_command(room_id),
        ),
        _ids(room_id, job_id),
    )


def confirmation(
    ticket: Ticket,
    app_user: str,
    job: SmartLiveJob | None,
    lookup_problem: str | None,
    ttl: int,
    now: datetime,
    *,
    cancel: Ticket,
) -> Reply:
    """The one red button. ``ticket.expires_at`` is the deadline shown (``ttl`` is kept for
    callers; it is how ``expires_at`` was made). ``ticket`` is sealed for the Stop button,
    ``cancel`` (the same ticket, :meth:`~bot.stopflow.tickets.Ticket.for_purpose`) for Cancel:
    neither value works on the other button."""
    room = room_label(ticket.room_id, job.room_name if job else None)
    head = words(
        "*Stop {room}?* Viewers see the stream end now; a stopped job cannot be resumed "
        "(start a new one in MetaStudio).",
        room=room,
    )
    lines = [head]
    if job is not None:
        lines.append(job_facts(job, now))
        if job.liveness is Liveness.UNKNOWN:
            lines.append(words("⚠️ {u}; you can still stop it.", u=_unknown_state(job)))
    if lookup_problem is not None:
        lines.append(
            words(
                "⚠️ I couldn't read the job ({p}); you can still stop it.",
                p=data(lookup_problem, MESSAGE_CAP),
            )
        )
    deadline = clock(datetime.fromtimestamp(ticket.expires_at, UTC))
    small = join(
        " · ",
        [
            _ids(ticket.room_id, ticket.job_id),
            words("as MetaStudio user {u}", u=data(app_user, ID_CAP)),
            *([_state(job)] if job is not None else []),
            words("only you can use this, once; it expires at {t}", t=deadline),
        ],
    )
    text = words(
        "Stop {room}? Viewers see the stream end now. Confirm or cancel before {t}.",
        room=room,
        t=deadline,
    )
    if len(ticket.encode()) > MAX_BUTTON_VALUE:  # IDs are checked first; this is a last guard
        lines.append(words("⚠️ This request is too long for a Slack button. Nothing was stopped."))
        return Reply(text=text, blocks=[section(join("\n", lines)), context(small)])
    label = one_line(job.room_name) if job and job.room_name else f"job {ticket.job_id}"
    buttons = actions(
        "stoplive.confirmation",
        button(
            "Stop stream",
            CONFIRM_ACTION,
            ticket.encode(),
            style="danger",
            accessibility_label=f"Stop {label} now",
        ),
        button(
            "Cancel", CANCEL_ACTION, cancel.encode(), accessibility_label="Cancel, keep it live"
        ),
    )
    blocks = [section(join("\n", lines)), context(small), buttons]
    return Reply(text=text, blocks=blocks)


def picker(room_id: str, choices: Sequence[tuple[SmartLiveJob, Ticket]], now: datetime) -> Reply:
    """One room's live jobs, each with a plain "Choose" button (red comes only on the final
    Stop); as many as Slack allows, then "…and N more"."""
    room = room_label(room_id, choices[0][0].room_name if choices else None)
    count = len(choices)
    head = words(
        f"*Choose the job to stop:* {count} live job{'s' if count != 1 else ''} in {{room}}.",
        room=room,
    )
    room_small = _ids(room_id)
    fits = MAX_BLOCKS - 4  # head, small print, "…and N more", footer
    blocks = [section(head), context(room_small)]
    for job, ticket in choices[:fits]:
        blocks.append(_choice(job, ticket.encode(), now))
    blocks.extend(_more(count - min(count, fits), room_id))
    blocks.append(context(words("You confirm on the next screen. Nothing is stopped yet.")))
    return Reply(text=words("{h}\n{s}", h=head, s=room_small), blocks=blocks)


def stopping(ticket: Ticket) -> Reply:
    """The requester's note while the stop call is out: the stream by the name they confirmed,
    the IDs in the small print."""
    return _reply(
        words(
            "⏳ Stopping {room}… the result will be posted in the channel.",
            room=room_label(ticket.room_id, ticket.room_name),
        ),
        None,
        _ids(ticket.room_id, ticket.job_id),
    )


def cancelled(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "↩️ Cancelled: job {j} in room {r} is still live. Nothing was stopped.",
            j=data(ticket.job_id, ID_CAP),
            r=data(ticket.room_id, ID_CAP),
        )
    )


def result_posted(channel_id: str, outcome: Outcome | None = None) -> Reply:
    """The requester's note once the outcome is in the channel: where to look, and (given the
    outcome) its verdict line, so they need not go and look."""
    done = words("Done: result posted in {c}", c=channel(channel_id))
    if outcome is None:
        return Reply(text=words("{d}.", d=done))
    return Reply(text=words("{h} · {d}", h=_head(outcome), d=done))


def job_now(job: SmartLiveJob, now: datetime, stop_value: str | None = None) -> Reply:
    """ "Check again", for whoever clicked: the job as MetaStudio sees it now, in plain words,
    with "Stop again" (``stop_value``) while it is still live. Changes nothing."""
    room = room_label(job.room_id or "", job.room_name)
    if job.is_live:
        first = "🔴 Still live: {room} is {w}"
    elif job.has_ended:
        first = "✅ Ended: {room} is not live ({w})"
    else:
        first = "❓ Unknown state: {room} is {w}"
    head = words(first + " · checked at {t}", room=room, w=_seen(job), t=clock(now))
    buttons = outcome_actions(stop_value=stop_value) if not job.has_ended else None
    return _reply(
        head,
        job_facts(job, now),
        _ids(job.room_id or "", job.job_id, _state(job), _request(job.request_id)),
        *([buttons] if buttons else []),
    )


def job_unchecked(room_id: str, job_id: str, problem: str) -> Reply:
    """ "Check again" when the job could not be read: why, and that nothing changed."""
    return _reply(
        words(
            "❓ Couldn't check job {j}: {p}",
            j=data(job_id, ID_CAP),
            p=data(problem, MESSAGE_CAP),
        ),
        words("Nothing was changed; try again, or check MetaStudio."),
        _ids(room_id, job_id),
    )
