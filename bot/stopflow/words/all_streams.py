"""The words of ``/stoplive all``: the list with its one red button, the channel's request for
a second person, and the one channel message that fills in as the stops' verdicts arrive.

A count is always the count of the *confirmed* set; a list that was not read whole says so to
the end (the final message never says "all stopped" of a list that missed rooms), and an
unknown verdict stays unknown (❓), never counted as stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.models.blocks import ConfirmObject, PlainTextObject

from bot.metastudio.models import SmartLiveJob
from bot.stopflow.tickets import Ticket
from bot.stopflow.words.actions import (
    APPROVE_ALL_ACTION,
    STOP_AGAIN_ACTION,
    STOP_ALL_ACTION,
    WITHDRAW_ALL_ACTION,
)
from bot.stopflow.words.common import _command
from bot.stopflow.words.markup import (
    MAX_BLOCKS,
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
    room_label,
    section,
    short_id,
    words,
)

LINES_PER_SECTION = 12  # a job's line is at most ~250 characters: 12 fit in 3,000
LISTED = 36  # jobs named in one message (3 sections); the rest are counted, and still in the set
FAILURES_LISTED = 40  # one section with a Stop again button each, in one thread reply


@dataclass(frozen=True)
class Member:
    """One job of the confirmed set, as the store's note keeps it."""

    room_id: str
    job_id: str
    room_name: str = ""

    @property
    def label(self) -> Mrkdwn:
        return room_label(self.room_id, self.room_name)


# How each job's end is counted: the emoji and word of the tally, in the order shown.
STOPPED, LIVE, REFUSED, UNKNOWN, ELSEWHERE, PENDING = (
    "stopped",
    "still_live",
    "not_stopped",
    "unknown",
    "elsewhere",
    "pending",
)
TALLY_WORDS = {
    STOPPED: "✅",
    LIVE: "🔴 still live",
    REFUSED: "❌ not stopped",
    UNKNOWN: "❓ unknown",
    ELSEWHERE: "⏳ being stopped by someone else",
    PENDING: "pending",
}


def _streams(n: int) -> str:
    return f"{n} stream{'s' if n != 1 else ''}"


def _all(n: int) -> str:
    """``all 12 streams``, or ``the 1 stream``."""
    return f"{'the' if n == 1 else 'all'} {_streams(n)}"


def _sections(lines: Sequence[Mrkdwn]) -> list[Block]:
    return [
        section(join("\n", list(lines[i : i + LINES_PER_SECTION])))
        for i in range(0, len(lines), LINES_PER_SECTION)
    ]


def _listed(members: Sequence[tuple[Member, SmartLiveJob | None]], now: datetime) -> list[Block]:
    """Names, a short job ID (two jobs of one room are told apart) and how long each has been
    live, as many as fit; the rest counted."""
    lines = [
        join(
            " · ",
            [
                words("• *{room}*", room=m.label),
                short_id("job", m.job_id),
                *([job_facts(job, now)] if job is not None else []),
            ],
        )
        for m, job in members[:LISTED]
    ]
    blocks = _sections(lines)
    if len(members) > LISTED:
        more = len(members) - LISTED
        blocks.append(context(words(f"…and {more} more: they are stopped too.")))
    return blocks


def confirm_dialog(count: int) -> ConfirmObject:
    """Slack's own dialog before the click is sent, naming the count."""
    return ConfirmObject(
        title=PlainTextObject(text=f"Stop {_streams(count)}?"),
        text=PlainTextObject(
            text=f"Viewers of {_all(count)} see the end now. A stopped job cannot be resumed."
        ),
        confirm=PlainTextObject(text=f"Stop {_streams(count)}"),
        deny=PlainTextObject(text="Keep them live"),
        style="danger",
    )


def offer(
    ticket: Ticket,
    members: Sequence[tuple[Member, SmartLiveJob]],
    now: datetime,
    missing: Mrkdwn | None,
    two_person: bool,
) -> Reply:
    """The live jobs the requester may stop, and one red button for exactly these."""
    n = len(members)
    head = words(
        f"*Stop {_all(n)} live now?* Viewers see them end; a stopped job cannot be "
        "resumed. Only the streams listed here are stopped."
    )
    deadline = clock(datetime.fromtimestamp(ticket.expires_at, UTC))
    small = [words("only you can use this, once; it expires at {t}", t=deadline)]
    if two_person:
        small.append(words("a second person with the stop-all grant approves next"))
    blocks = [section(head), *_listed([(m, j) for m, j in members], now)]
    if missing:
        blocks.append(section(missing))
    blocks.append(context(join(" · ", small)))
    blocks.append(
        actions(
            "stoplive.stop_all",
            button(
                f"Stop {_all(n)}",
                STOP_ALL_ACTION,
                ticket.encode(),
                style="danger",
                accessibility_label=f"Stop {_all(n)} now",
                confirm=confirm_dialog(n),
            ),
        )
    )
    text = words(
        f"Stop {_all(n)} live now? Confirm before " + "{t}.",
        t=deadline,
    )
    return Reply(text=text, blocks=blocks[:MAX_BLOCKS])


def list_expired() -> Reply:
    return Reply(
        text=words(
            "⌛ Expired: this list is no longer held (it expired, or could not be read back), "
            "so nothing was stopped. Run {cmd} again.",
            cmd=_command("all"),
        )
    )


INCOMPLETE = (
    "⚠️ The list was not read whole (some rooms could not be read, or more were live than "
    "listed): a live stream left out of it is not stopped. Run {cmd} again to see what is live."
)


def _incomplete() -> Mrkdwn:
    return words(INCOMPLETE, cmd=_command("all"))


def asked(
    ticket: Ticket,
    count: int,
    approve: Ticket,
    withdraw: Ticket,
    members: Sequence[Member],
    incomplete: bool,
) -> Reply:
    """The channel's request for a second person (two-person mode)."""
    deadline = clock(datetime.fromtimestamp(ticket.expires_at, UTC))
    head = words(
        f"🟠 {{who}} asks to stop {_streams(count)} — a second person with the stop-all grant "
        "must approve before {t}. Nothing is stopped yet.",
        who=mention(ticket.requester),
        t=deadline,
    )
    blocks = [section(head), *_listed([(m, None) for m in members], datetime.now(UTC))]
    if incomplete:
        blocks.append(section(_incomplete()))
    blocks.append(
        actions(
            "stoplive.approve_all",
            button(
                f"Approve: stop {_streams(count)}",
                APPROVE_ALL_ACTION,
                approve.encode(),
                style="danger",
                accessibility_label=f"Approve stopping {_streams(count)}",
                confirm=confirm_dialog(count),
            ),
            button(
                "Cancel (requester)",
                WITHDRAW_ALL_ACTION,
                withdraw.encode(),
                accessibility_label="Cancel this request (only its requester can)",
            ),
        )
    )
    return Reply(text=head, blocks=blocks[:MAX_BLOCKS])


def stopping_note(channel_id: str, count: int) -> Reply:
    """The requester's list, replaced once confirmed: the tally is in the channel."""
    return Reply(
        text=words(
            f"⏳ Stopping {_streams(count)}: the message in {{c}} fills in as each one is known.",
            c=channel(channel_id),
        )
    )


def ask_not_posted() -> Reply:
    return Reply(
        text=words(
            "⚠️ Not asked: I could not post the request for a second person in the channel "
            "(is the app in it?), so nobody can approve it. Nothing was stopped."
        )
    )


def asked_note(ticket: Ticket, count: int) -> Reply:
    return Reply(
        text=words(
            f"🟠 Asked the channel: a second person with the stop-all grant must approve "
            f"stopping {_streams(count)} before " + "{t}. Nothing is stopped yet.",
            t=clock(datetime.fromtimestamp(ticket.expires_at, UTC)),
        )
    )


def ask_closed(ticket: Ticket, count: int, why: str) -> Reply:
    """The request revised when it can no longer be approved: ``why`` is ``expired`` or
    ``withdrawn``."""
    if why == "expired":
        head = words(
            f"⌛ Expired: {{who}}'s request to stop {_streams(count)} expired before anyone "
            "approved it. Nothing was stopped.",
            who=mention(ticket.requester),
        )
    else:
        head = words(
            f"↩️ Cancelled: {{who}} withdrew the request to stop {_streams(count)}. Nothing "
            "was stopped.",
            who=mention(ticket.requester),
        )
    return Reply(text=head, blocks=[section(head)])


def already_approved(*, expired: bool = False) -> Reply:
    """The approval (or the withdrawal) was taken first; or the request was closed as expired,
    when nothing was stopped and nobody approved."""
    if expired:
        return Reply(
            text=words("⌛ Expired: this request can no longer be approved. Nothing was stopped.")
        )
    return Reply(text=words("Already handled: someone approved or cancelled this request first."))


def progress(
    tally: dict[str, int],
    total: int,
    requester: str,
    approver: str,
    *,
    final: bool,
    incomplete: bool = False,
    later: Sequence[SmartLiveJob] = (),
    later_problem: str | None = None,
) -> Reply:
    """The one channel message: the running tally, then the final one, verdict first."""
    counts = [
        words(f"{tally[key]} {TALLY_WORDS[key]}")
        for key in (STOPPED, LIVE, REFUSED, UNKNOWN, ELSEWHERE, PENDING)
        if tally.get(key)
    ]
    stopped = tally.get(STOPPED, 0)
    if not final:
        head = words("⏳ Stopping {n} · {c}", n=words(_streams(total)), c=join(" · ", counts))
    elif stopped == total:
        what = f"every listed stream ({total})" if incomplete else _all(total)
        head = words(f"✅ Stopped {what}")
    else:
        rest = [c for c in counts[1:]] if tally.get(STOPPED) else counts
        head = words(
            f"⚠️ Stopped {stopped} of {_streams(total)} · " + "{rest}",
            rest=join(" · ", rest),
        )
    who = [words("asked by {r}", r=mention(requester))]
    if approver:
        who.append(words("approved by {a}", a=mention(approver)))
    who.append(words("{cmd}", cmd=_command("all")))
    blocks = [section(head)]
    if final and incomplete:
        blocks.append(section(_incomplete()))
    if final and later:
        named = [room_label(job.room_id or "", job.room_name) for job in later[:10]]
        if len(later) > 10:
            named.append(words(f"and {len(later) - 10} more"))
        blocks.append(
            section(
                words(
                    "🔴 Live now, not in the confirmed list (started after it, so not stopped): "
                    "{rooms}. Run {cmd} again to stop them.",
                    rooms=join(", ", named),
                    cmd=_command("all"),
                )
            )
        )
    elif final and later_problem:
        blocks.append(
            context(
                words(
                    "I couldn't read what is live now ({p}): a stream started after the list "
                    "would not show here.",
                    p=data(later_problem, 160),
                )
            )
        )
    if not final:  # a replica killed mid-way leaves this message as it is: say what then
        who.append(
            words(
                "if this stops filling in, stoplive restarted: run {cmd} to see what is still live",
                cmd=_command("all"),
            )
        )
    blocks.append(context(join(" · ", who)))
    text = words("{h}\n{w}", h=head, w=join(" · ", who))
    return Reply(text=text, blocks=blocks)


def failures(failed: Sequence[tuple[Member, Mrkdwn, str | None]], total: int) -> Reply:
    """The thread reply (broadcast) listing each job that did not end, with Stop again."""
    n = len(failed)
    head = words(
        f"🔴 Not stopped, or not known to be: {n} of {_streams(total)}. Each below has Stop "
        "again (you confirm it first)."
    )
    blocks = [section(head)]
    for member, why, value in failed[: MAX_BLOCKS - 2][:FAILURES_LISTED]:
        again = (
            button(
                "Stop again",
                STOP_AGAIN_ACTION,
                value,
                accessibility_label="Ask to stop this job again (you confirm first)",
            )
            if value
            else None
        )
        line = words(
            "*{room}* · {why}\nRoom {r} · Job {j}",
            room=member.label,
            why=why,
            r=data(member.room_id),
            j=data(member.job_id),
        )
        blocks.append(section(line, accessory=again))
    if n > FAILURES_LISTED:
        blocks.append(context(words(f"…and {n - FAILURES_LISTED} more: run /stoplive all.")))
    names = join(", ", [m.label for m, _, _ in failed[:10]])
    return Reply(text=words("{h} {n}", h=head, n=names), blocks=blocks)
