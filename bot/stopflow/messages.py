"""The words stoplive says, one function per message.

Written for a responder who reads for two seconds: the first line says what happened, verdict
word first, with an emoji that matches the severity and words beside it; full IDs, the
MetaStudio user, the request ID and MetaStudio's raw state follow in small print (copyable,
searchable). Requester-only (ephemeral) messages come first, channel messages after. Each
returns a :class:`~bot.stopflow.markup.Reply`; nothing here talks to Slack, and every piece of
foreign text goes through :func:`~bot.stopflow.markup.data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import JobState, Liveness, SmartLiveJob, SmartLiveRoom
from bot.stopflow.markup import (
    ID_CAP,
    MAX_BLOCKS,
    MAX_BUTTON_VALUE,
    MESSAGE_CAP,
    NAME_CAP,
    Block,
    Mrkdwn,
    Reply,
    actions,
    button,
    channel,
    clock,
    context,
    data,
    job_facts,
    join,
    mention,
    one_line,
    room_label,
    section,
    slack_link,
    span,
    state_word,
    words,
)
from bot.stopflow.outcome import Outcome, StopAnswer, Verdict
from bot.stopflow.tickets import Ticket

CONFIRM_ACTION = "stoplive.confirm"
CANCEL_ACTION = "stoplive.cancel"
PICK_ACTION = "stoplive.pick"  # a "Stop…" button (to a confirmation): its value is what the caller gave (a ticket)
OPEN_CONSOLE_ACTION = "stoplive.open_console"  # a link button; Slack still sends the click
CHECK_AGAIN_ACTION = "stoplive.check_again"
STOP_AGAIN_ACTION = "stoplive.stop_again"

EXAMPLE = "/stoplive 24bad716-87b1-45e5-8912-6102f7693265 26f06524-4f75-4b3a-a853-b649a21aaf66"

# The emoji and the verdict words every outcome starts with.
HEADS: dict[Verdict, str] = {
    Verdict.STOPPED: "✅ Stopped",
    Verdict.ENDED: "✅ Ended",
    Verdict.STILL_LIVE: "🔴 Still live",
    Verdict.REFUSED: "❌ MetaStudio refused to stop",
    Verdict.UNKNOWN: "❓ Outcome unknown",
    Verdict.UNKNOWN_STATE: "❓ Outcome unknown",
    Verdict.UNREADABLE: "❓ Outcome unknown",
    Verdict.SHUT_DOWN: "❓ Outcome unknown",
    Verdict.IAM_FAILED: "❌ Not stopped (no IAM token)",
    Verdict.NOT_SENT: "⚠️ Not stopped (never sent)",
}
_MAX_CHANNELS_LISTED = 20
_MAX_ROOMS_LISTED = 10


def _reply(head: Mrkdwn, detail: Mrkdwn | None, small: Mrkdwn | None, *more: Block) -> Reply:
    """Verdict line, then what it means, then the small print; ``text`` carries all three so
    a notification, a search and the plain fallback say the same."""
    body = words("{h}\n{d}", h=head, d=detail) if detail else head
    text = words("{b}\n{s}", b=body, s=small) if small else body
    blocks = [section(body)] + ([context(small)] if small else []) + list(more)
    return Reply(text=text, blocks=blocks)


def _ids(room_id: str, job_id: str | None = None, *extra: Mrkdwn) -> Mrkdwn:
    parts = [words("Room {r}", r=data(room_id, ID_CAP))]
    if job_id is not None:
        parts.append(words("Job {j}", j=data(job_id, ID_CAP)))
    return join(" · ", [*parts, *extra])


def _state(job: SmartLiveJob) -> Mrkdwn:
    return words("MetaStudio state {s}", s=data(job.state, ID_CAP))


def _unknown_state(job: SmartLiveJob) -> Mrkdwn:
    """A state stoplive does not know, named as MetaStudio wrote it: never taken for ended."""
    return words("MetaStudio reports {s}, which stoplive does not know", s=data(job.state, ID_CAP))


def _seen(job: SmartLiveJob | None) -> Mrkdwn:
    """How the job was last seen, in plain words (the raw state when it is not one we know)."""
    if job is None:
        return words("not readable yet")
    if job.liveness is Liveness.UNKNOWN:
        return words("in a state I don't know ({s})", s=data(job.state, ID_CAP))
    return words(state_word(job))


def _command(*parts: str) -> Mrkdwn:
    """A command to type again, in one code span (so its IDs stay copyable)."""
    return data(" ".join(("/stoplive", *parts)), 200)


# --- To the requester only -------------------------------------------------------------------


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


def _choice(job: SmartLiveJob, value: str, now: datetime) -> Block:
    text = words(
        "{facts}\nJob {j} · {state}",
        facts=job_facts(job, now),
        j=data(job.job_id),
        state=_state(job),
    )
    label = f"Stop job {one_line(job.job_id)}… (you confirm next)"
    choose = (
        button("Stop…", PICK_ACTION, value, accessibility_label=label)
        if len(value) <= MAX_BUTTON_VALUE
        else None
    )
    return section(text, accessory=choose)


def _more(hidden: int, room_id: str | None) -> list[Block]:
    if hidden <= 0:
        return []
    how = (
        words("type {cmd}", cmd=_command(room_id, "<job_id>"))
        if room_id
        else words(
            "narrow it with {cmd}, or use {ids}",
            cmd=_command("<more words of the room name>"),
            ids=_command("<room_id>"),
        )
    )
    return [context(words(f"…and {hidden} more: {{how}}.", how=how))]


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


def expired(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "⌛ Expired: this confirmation expired, so nothing was stopped. Run {cmd} again if "
            "you still need to.",
            cmd=_command(ticket.room_id, ticket.job_id),
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


def broken_button() -> Reply:
    return Reply(text=words("⚠️ Unreadable button: run /stoplive again. Nothing was stopped."))


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


# --- In the channel --------------------------------------------------------------------------


# What came back to the stop call, as the start of a sentence.
STOP_ANSWERS: dict[StopAnswer, str] = {
    StopAnswer.ANSWERED: "MetaStudio accepted the stop",
    StopAnswer.UNCLEAR: "MetaStudio answered the stop with an error that does not say whether "
    "it was applied",
    StopAnswer.NONE: "MetaStudio did not answer the stop",
    StopAnswer.UNKNOWN: "stoplive does not know what MetaStudio answered the stop",
    StopAnswer.REFUSED: "MetaStudio refused this stop",
}


def stop_sent(ticket: Ticket, answer: StopAnswer) -> Reply:
    """Posted as soon as the stop call returns; revised in place once the job is seen."""
    status = STOP_ANSWERS[answer] + "; checking the job…"
    return _reply(
        words(
            "⏳ Stopping: {room} · by {who}",
            room=room_label(ticket.room_id, ticket.room_name),
            who=mention(ticket.requester),
        ),
        words(status),
        _ids(ticket.room_id, ticket.job_id),
    )


def still_checking(ticket: Ticket, job: SmartLiveJob | None, waited: float) -> Reply:
    """Progress while a job that is still live keeps being watched: the channel message says
    so instead of sitting at "checking"."""
    room = room_label(ticket.room_id, job.room_name if job else None)
    return _reply(
        words(
            "⏳ Still checking: {room} · stop asked by {who}",
            room=room,
            who=mention(ticket.requester),
        ),
        words(
            "After " + span(waited) + " the job is {seen}; I keep watching until it ends.",
            seen=_seen(job),
        ),
        _ids(ticket.room_id, ticket.job_id, *([_state(job)] if job else [])),
    )


def announcement(
    outcome: Outcome,
    *,
    console_url: str | None = None,
    check_value: str | None = None,
    stop_value: str | None = None,
) -> Reply:
    """The one channel message that tells the truth about a confirmed stop. The keyword
    arguments add the optional buttons of :func:`outcome_actions`."""
    buttons = outcome_actions(
        console_url=console_url, check_value=check_value, stop_value=stop_value
    )
    return _reply(
        _head(outcome), _detail(outcome), _small(outcome), *([buttons] if buttons else [])
    )


def still_watching(so_far: Outcome, waited: float, left: float) -> Reply:
    """The thread reply (broadcast to the channel) when the first window ends with the job
    not seen ended: a responder hears at once, not when the watch ends."""
    return Reply(
        text=words(
            "{h} after " + span(waited) + ": {room} · stop asked by {who}\n"
            "{said}; the job is {seen}. I keep watching for up to " + span(left) + " and will "
            "reply here.",
            h=words(HEADS[so_far.verdict]),
            room=_room(so_far),
            who=mention(so_far.ticket.requester),
            said=words(STOP_ANSWERS[so_far.answer]),
            seen=_seen(so_far.job),
        )
    )


def audit_copy(reply: Reply, channel_id: str, permalink: str | None) -> Reply:
    """The audit channel's copy of an outcome: where the stop came from first (the channel,
    and a link to the message there when Slack gave one), then the outcome as posted, without
    its buttons (the copy is a record; acting happens where the stop was asked)."""
    link = slack_link(permalink, "the channel message") if permalink else None
    origin = words("From {c}", c=channel(channel_id))
    shown = words("{o} · {l}", o=origin, l=link) if link else origin
    kept = [block for block in reply.blocks if block.get("type") != "actions"]
    return Reply(
        text=words("{o}: {t}", o=origin, t=Mrkdwn(reply.text)),
        blocks=[context(shown), *(kept or [section(Mrkdwn(reply.text))])],
    )


def thread_reply(outcome: Outcome, previous: Verdict | None = None) -> Reply:
    """A short reply in the outcome's thread when the verdict is bad or has changed (so the
    people following the thread are told): verdict first, then what to do."""
    changed = (
        words(f" (was: {HEADS[previous].split(' ', 1)[1]})")
        if previous is not None and previous != outcome.verdict
        else None
    )
    head = words("{h}{c}", h=_head(outcome), c=changed) if changed else _head(outcome)
    step = _next_step(outcome)
    if outcome.recovered_by:  # the stop's first owner went away; a replica or restart finished it
        step = words("{s} (Checked again after stoplive restarted.)", s=step)
    return Reply(text=words("{h}\n{n}", h=head, n=step))


def outcome_actions(
    *,
    console_url: str | None = None,
    check_value: str | None = None,
    stop_value: str | None = None,
) -> Block | None:
    """Optional buttons under an outcome: "Open in MetaStudio" (an http(s) URL, else left out),
    "Check again" and "Stop again" (values chosen by the caller). None when there are none.
    "Stop again" is not red: it leads to a confirmation, which has the red button."""
    elements = []
    if console_url and console_url == one_line(console_url) and _web_url(console_url):
        elements.append(
            button(
                "Open in MetaStudio",
                OPEN_CONSOLE_ACTION,
                url=console_url,
                accessibility_label="Open this job in the MetaStudio console",
            )
        )
    if check_value and len(check_value) <= MAX_BUTTON_VALUE:
        elements.append(
            button(
                "Check again",
                CHECK_AGAIN_ACTION,
                check_value,
                accessibility_label="Read the job's state again",
            )
        )
    if stop_value and len(stop_value) <= MAX_BUTTON_VALUE:
        elements.append(
            button(
                "Stop again",
                STOP_AGAIN_ACTION,
                stop_value,
                accessibility_label="Ask to stop this job again (you confirm first)",
            )
        )
    return actions("stoplive.outcome_actions", *elements) if elements else None


def _web_url(url: str) -> bool:
    """An http(s) link (as the console URL setting allows) that fits Slack's 3,000 limit."""
    return url.startswith(("https://", "http://")) and len(url) <= 3000 and " " not in url


def _room(outcome: Outcome) -> Mrkdwn:
    """The name MetaStudio gave last: the job's as read, else the one confirmed (a refused stop
    reads no job)."""
    seen = outcome.job.room_name if outcome.job else None
    return room_label(outcome.ticket.room_id, seen or outcome.ticket.room_name)


def _head(outcome: Outcome) -> Mrkdwn:
    room, who = _room(outcome), mention(outcome.ticket.requester)
    if outcome.verdict is Verdict.REFUSED:
        error = outcome.error
        said = (
            words(
                " {code} ({msg})",
                code=data(error.error_code or f"HTTP {error.status}", ID_CAP),
                msg=data(error.error_msg, MESSAGE_CAP),
            )
            if error is not None
            else words("")
        )
        return words(
            HEADS[outcome.verdict] + " {room}:{said} · by {who}", room=room, said=said, who=who
        )
    verb = "by" if outcome.verdict is Verdict.STOPPED else "stop asked by"
    return words(HEADS[outcome.verdict] + ": {room} · " + verb + " {who}", room=room, who=who)


def _detail(outcome: Outcome) -> Mrkdwn:
    job = outcome.job
    if outcome.verdict is Verdict.STOPPED:
        ended = _ended_line(outcome)
        if outcome.answered:
            return ended
        return words(
            "{e} {l}; the job's state confirms it.", e=ended, l=words(LOST[outcome.answer])
        )
    said = STOP_ANSWERS[outcome.answer]
    if outcome.answer is StopAnswer.REFUSED:  # and the job was not read live
        return _after_refusal(outcome)
    if outcome.verdict is Verdict.STILL_LIVE:
        state = words(state_word(job)) if job else words("live")
        return words(
            said + ", but the stream is still {s} after " + span(outcome.waited) + ". "
            "It may not have stopped: check MetaStudio or run /stoplive again.",
            s=state,
        )
    if outcome.verdict is Verdict.UNKNOWN_STATE and job is not None:
        return words(
            said + ", and after " + span(outcome.waited) + " {u}: it may still be live. "
            "Check MetaStudio or run {c} to see its state.",
            u=_unknown_state(job),
            c=_command(outcome.ticket.room_id, outcome.ticket.job_id),
        )
    if outcome.verdict is Verdict.REFUSED:
        status = outcome.error.status if outcome.error else 0
        return words(f"Nothing was stopped (HTTP {status}). " + "Check the error, then try again.")
    t = outcome.ticket
    again = _command(t.room_id, t.job_id)
    state = words(state_word(job)) if job else words("unknown (it could not be read)")
    if outcome.verdict is Verdict.IAM_FAILED:
        return words(
            "Huawei Cloud IAM gave no token ({e}), so nothing was sent to MetaStudio. Check "
            "HUAWEICLOUD_IAM_USERNAME, _PASSWORD and _DOMAIN, then run {c} again.",
            e=data(outcome.iam_error or "no token", MESSAGE_CAP),
            c=again,
        )
    if outcome.verdict is Verdict.NOT_SENT:
        return words(
            "stoplive stopped before sending the stop. The stream is {s}; run {c} again if it "
            "still needs stopping.",
            s=state,
            c=again,
        )
    if outcome.verdict is Verdict.UNREADABLE:
        return words(
            "MetaStudio answered, but not in the documented form ({p}), so I cannot say whether "
            "the stream stopped. Check MetaStudio or run {c} to see its state.",
            p=data(outcome.problem, MESSAGE_CAP),
            c=again,
        )
    if outcome.verdict is Verdict.SHUT_DOWN:
        return words(
            said + "; the stream was still {s} when stoplive shut down, so I could not see it "
            "end. Check MetaStudio or run {c} to see its state.",
            s=state,
            c=again,
        )
    return words(
        said + ", but the job could not be read to confirm it ended ({p}). "
        "Check MetaStudio before trying again.",
        p=data(outcome.problem, MESSAGE_CAP),
    )


def _after_refusal(outcome: Outcome) -> Mrkdwn:
    """A refused stop of a job not read live: the refusal, then what the read showed. Never
    "nothing was stopped" (the stream is not seen live), nor that this stop ended it."""
    error = outcome.error
    code = data(error.error_code or f"HTTP {error.status}", ID_CAP) if error else words("a 4xx")
    said = words(STOP_ANSWERS[StopAnswer.REFUSED] + " ({c})", c=code)
    t, job = outcome.ticket, outcome.job
    again = _command(t.room_id, t.job_id)
    if outcome.verdict is Verdict.ENDED:
        return words(
            "{s}, and the job had already ended: an earlier stop (another click, another "
            "person) or MetaStudio itself ended it. {e}",
            s=said,
            e=_ended_line(outcome),
        )
    if job is not None:
        return words(
            "{s}, and {u}: it may still be live. Check MetaStudio or run {c} to see its state.",
            s=said,
            u=_unknown_state(job),
            c=again,
        )
    return words(
        "{s}, and the job could not be read ({p}), so whether it is still live is unknown. "
        "Check MetaStudio or run {c} to see its state.",
        s=said,
        p=data(outcome.problem, MESSAGE_CAP),
        c=again,
    )


# After "the stream ended …": what came back to the stop, when it was not a plain answer.
LOST: dict[StopAnswer, str] = {
    StopAnswer.ANSWERED: "",
    StopAnswer.UNCLEAR: "MetaStudio's answer to the stop was an error that does not say "
    "whether it was applied",
    StopAnswer.NONE: "MetaStudio's answer to the stop was lost",
    StopAnswer.UNKNOWN: "What MetaStudio answered the stop is unknown to stoplive",
    StopAnswer.REFUSED: "MetaStudio refused this stop",
}


def _next_step(outcome: Outcome) -> Mrkdwn:
    if outcome.verdict is Verdict.STOPPED:
        return _ended_line(outcome)
    return _detail(outcome)


def _small(outcome: Outcome) -> Mrkdwn:
    t = outcome.ticket
    return join(
        " · ",
        [
            _ids(t.room_id, t.job_id),
            words("MetaStudio user {u}", u=data(outcome.app_user, ID_CAP)),
            _request(outcome.request_id),
            *([_state(outcome.job)] if outcome.job else []),
            *([_error_small(outcome.error)] if outcome.error else []),
        ],
    )


def _request(request_id: str) -> Mrkdwn:
    if not request_id:
        return words("no MetaStudio request ID")
    return words("MetaStudio request {r}", r=data(request_id, ID_CAP))


def _error_small(error: MetaStudioError) -> Mrkdwn:
    return words(
        f"HTTP {error.status} " + "{c}: {m}",
        c=data(error.error_code, ID_CAP),
        m=data(error.error_msg, MESSAGE_CAP),
    )


def _ended_line(outcome: Outcome) -> Mrkdwn:
    job = outcome.job
    if job is None:
        return words("The stream has ended.")
    ended, started = job.ended_at, job.started_at
    reason = job.end_reason
    why = words(" MetaStudio says: {r}.", r=data(reason, MESSAGE_CAP)) if reason else words("")
    if ended is None:
        return words("The stream has ended ({w}).{y}", w=words(state_word(job)), y=why)
    length = f" after {span((ended - started).total_seconds())}" if started else ""
    normal = job.known_state in (JobState.SUCCEED, JobState.SUCCESS)
    how = words("") if normal else words(" ({w})", w=words(state_word(job)))
    return words("The stream ended at {t}" + length + "{h}.{y}", t=clock(ended), h=how, y=why)


# --- Finding a job by room name --------------------------------------------------------------


def _matching(query: str | None) -> Mrkdwn:
    return words(" matching {q}", q=data(query, NAME_CAP)) if query is not None else words("")


def _unreadable_rooms(unreadable: Sequence[tuple[SmartLiveRoom, str]]) -> Mrkdwn:
    """Which rooms' jobs could not be read, and why (the first few): a list that leaves them
    out must say so, or a live job there would look absent."""
    named = [
        words("{room} ({p})", room=room_label(room.room_id, room.room_name), p=data(problem, 120))
        for room, problem in unreadable[:_MAX_ROOMS_LISTED]
    ]
    if len(unreadable) > _MAX_ROOMS_LISTED:
        named.append(words(f"and {len(unreadable) - _MAX_ROOMS_LISTED} more"))
    n = len(unreadable)
    return words(
        f"⚠️ Couldn't read the jobs of {n} room{'s' if n != 1 else ''}: " + "{rooms}. A live "
        "job there is not listed; use {cmd} for that room.",
        rooms=join(", ", named),
        cmd=_command("<room_id>"),
    )


@dataclass(frozen=True)
class Shortfall:
    """A list of live jobs (``noun`` "live job") or of live rooms that was not read whole:
    ``read`` of MetaStudio's ``total`` (if it counted them), and ``problem``, why reading
    stopped (a failure or the deadline), or None if the list was cut at the page cap."""

    noun: str
    read: int
    total: int | None
    problem: str | None


def _how_many(n: int, noun: str, shortfall: Shortfall | None) -> str:
    """``2,000 live jobs``, or ``2,000+ live jobs`` when the list is not all there is."""
    return f"{n:,}{'+' if shortfall else ''} {noun}{'s' if n != 1 or shortfall else ''}"


def _shortfall(shortfall: Shortfall) -> Mrkdwn:
    """What a list left out: one sentence, so a live job it missed is not taken as none."""
    noun = shortfall.noun
    total = shortfall.total if shortfall.total and shortfall.total > shortfall.read else None
    counted = f" of the {total:,} MetaStudio counts" if total else ""
    if shortfall.problem is None:
        why = words(f"MetaStudio has more than the {shortfall.read:,} {noun}s read{counted}")
    else:
        why = words(
            "{p}, after " + f"{shortfall.read:,} {noun}s{counted}",
            p=data(shortfall.problem, 160),
        )
    return words(
        f"⚠️ Not every {noun} is listed: " + "{why}. Narrow it with {cmd}, or use {ids}.",
        why=why,
        cmd=_command("<words of a room name>"),
        ids=_command("<room_id>"),
    )


def live_jobs(
    choices: Sequence[tuple[SmartLiveJob, str]],
    now: datetime,
    query: str | None = None,
    *,
    unreadable: Sequence[tuple[SmartLiveRoom, str]] = (),
    shortfall: Shortfall | None = None,
) -> Reply:
    """Live jobs across several rooms, grouped by room name (rooms in the order first seen),
    each with a "Stop…" button carrying the value the caller gave; as many as fit in Slack's
    50 blocks, then "…and N more" and how to narrow the list. ``unreadable``: rooms whose jobs
    could not be read, with why, and ``shortfall``: what the list left out, said under the
    head (whose counts then read "2,000+")."""
    groups: dict[str, list[tuple[SmartLiveJob, str]]] = {}
    for job, value in choices:
        groups.setdefault(job.room_id or "", []).append((job, value))
    count = len(choices)
    head = words(
        "*Choose the job to stop:* "
        + f"{_how_many(count, 'live job', shortfall)} in {_how_many(len(groups), 'room', shortfall)}"
        + "{m}.",
        m=_matching(query),
    )
    notes = [_shortfall(shortfall)] if shortfall else []
    if unreadable:
        notes.append(_unreadable_rooms(unreadable))
    blocks = [section(head), *(context(note) for note in notes)]
    budget = MAX_BLOCKS - 3  # head is in; keep room for "…and N more" and the footer
    shown = 0
    for room_id, jobs in groups.items():
        if len(blocks) + 2 > budget:
            break
        blocks.append(
            context(
                words(
                    "*{room}* · {ids}",
                    room=room_label(room_id, jobs[0][0].room_name),
                    ids=_ids(room_id),
                )
            )
        )
        for job, value in jobs:
            if len(blocks) + 1 > budget:
                break
            blocks.append(_choice(job, value, now))
            shown += 1
    blocks.extend(_more(count - shown, None))
    blocks.append(context(words("You confirm on the next screen. Nothing is stopped yet.")))
    return Reply(text=join("\n", [head, *notes]), blocks=blocks)


def nothing_live() -> Reply:
    """``/stoplive`` with nothing, and nothing live that the requester may stop."""
    return Reply(
        text=words(
            "✅ Nothing live: no room you may stop has a live job, so there is nothing to stop."
        )
    )


def jobs_unreadable(
    query: str | None,
    unreadable: Sequence[tuple[SmartLiveRoom, str]],
    shortfall: Shortfall | None = None,
) -> Reply:
    """No live job was seen, but some could not be read (rooms whose jobs failed, or a list
    not read whole): no button, and no claim that nothing is live."""
    notes = [_shortfall(shortfall)] if shortfall else []
    if unreadable:
        notes.append(_unreadable_rooms(unreadable))
    return _reply(
        words("⚠️ Couldn't tell which jobs are live{m}. Nothing was stopped.", m=_matching(query)),
        join("\n", notes),
        None,
    )


def no_room_matches(query: str, restricted: bool = False) -> Reply:
    """No room's name matches; ``restricted``: none of the rooms the requester may stop (the
    same words whether or not another room matches, so nothing about it is given away)."""
    rooms = "room you may stop" if restricted else "room"
    return Reply(
        text=words(
            f"🔍 No {rooms} matches " + "{q}. Check the name, or use the room ID. "
            "Nothing was stopped.",
            q=data(query, NAME_CAP),
        )
    )


def no_live_in_matches(query: str, rooms: Sequence[SmartLiveRoom]) -> Reply:
    """Rooms matched the words, but none has a live job: nothing to stop, and which rooms."""
    named = [room_label(r.room_id, r.room_name) for r in rooms[:_MAX_ROOMS_LISTED]]
    if len(rooms) > _MAX_ROOMS_LISTED:
        named.append(words(f"and {len(rooms) - _MAX_ROOMS_LISTED} more"))
    n = len(rooms)
    return Reply(
        text=words(
            f"✅ Nothing live: {n} room{'s match' if n != 1 else ' matches'} "
            + "{q}, but none has a "
            "live job, so there is nothing to stop. Rooms: {rooms}.",
            q=data(query, NAME_CAP),
            rooms=join(", ", named) if named else words("none"),
        )
    )


def rooms_unlisted(query: str | None, problem: str) -> Reply:
    """``ListSmartLiveRooms`` itself failed: no list, and the ID forms still work."""
    return _reply(
        words(
            "⚠️ Couldn't list the rooms{m}: {p}",
            m=_matching(query),
            p=data(problem, MESSAGE_CAP),
        ),
        words(
            "If you know the room ID, use {cmd}. Nothing was stopped.",
            cmd=_command("<room_id>"),
        ),
        None,
    )
