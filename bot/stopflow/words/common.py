"""What every reader's words share: the reply shape (verdict line, meaning, small print), the
ID and state small print, the verdict heads, and the list pieces a picker and a search both
show. The other word modules import this one, never each other in a circle."""

from __future__ import annotations

from datetime import datetime

from bot.metastudio.models import Liveness, SmartLiveJob
from bot.stopflow.outcome import Verdict
from bot.stopflow.words.actions import PICK_ACTION
from bot.stopflow.words.markup import (
    ID_CAP,
    MAX_BUTTON_VALUE,
    Block,
    Mrkdwn,
    Reply,
    button,
    context,
    data,
    job_facts,
    join,
    one_line,
    section,
    state_word,
    words,
)

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
