"""The words the channel sees: the stop sent, still checking, the outcome, its thread replies
and buttons, and the audit copy. Each returns a :class:`~bot.stopflow.words.markup.Reply`."""

from __future__ import annotations

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import JobState, SmartLiveJob
from bot.stopflow.outcome import Outcome, StopAnswer, Verdict
from bot.stopflow.tickets import Ticket
from bot.stopflow.words.actions import CHECK_AGAIN_ACTION, OPEN_CONSOLE_ACTION, STOP_AGAIN_ACTION
from bot.stopflow.words.common import HEADS, _command, _ids, _reply, _seen, _state, _unknown_state
from bot.stopflow.words.markup import (
    ID_CAP,
    MAX_BUTTON_VALUE,
    MESSAGE_CAP,
    Block,
    Mrkdwn,
    Reply,
    actions,
    button,
    channel,
    clock,
    context,
    data,
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
