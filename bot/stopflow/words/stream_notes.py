"""The stream watch's words: the notes it posts in the notify channel about streams nobody asked
about, and its state on the App Home tab. Verdict first, like every other message; foreign text
(room names, MetaStudio's reasons) only through :func:`~bot.stopflow.words.markup.data`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.metastudio import SmartLiveJob
from bot.metastudio.models import JobState
from bot.stopflow.buttons import JobRef
from bot.stopflow.words.actions import STOP_AGAIN_ACTION
from bot.stopflow.words.common import _ids, _reply
from bot.stopflow.words.markup import (
    MAX_BUTTON_VALUE,
    MESSAGE_CAP,
    Block,
    Mrkdwn,
    Reply,
    actions,
    button,
    channel,
    clock,
    data,
    day_and_time,
    join,
    room_label,
    span,
    words,
)


def _facts(job: SmartLiveJob) -> Mrkdwn:
    """IDs, and for how long the job was live (when MetaStudio says both times)."""
    extra: list[Mrkdwn] = []
    started, ended = job.started_at, job.ended_at
    if started and ended:
        extra.append(
            words("ended at {at} after " + span((ended - started).total_seconds()), at=clock(ended))
        )
    return _ids(job.room_id or "", job.job_id, *extra)


def ended(job: SmartLiveJob) -> Reply:
    """A job that was live has ended without a stoplive stop: loud if MetaStudio says it
    failed or was blocked (with its reason), one quiet line otherwise."""
    room = room_label(job.room_id or "", job.room_name)
    reason = job.end_reason
    said = words(" · MetaStudio: {r}", r=data(reason, MESSAGE_CAP)) if reason else words("")
    if job.known_state is JobState.FAILED:
        head = words("🔴 *Ended with an error:* {room}{said}", room=room, said=said)
    elif job.known_state is JobState.BLOCKED:
        head = words("🔴 *Blocked by Huawei:* {room}{said}", room=room, said=said)
    else:
        head = words("⚪ Ended: {room}{said}", room=room, said=said)
    return _reply(head, None, _facts(job))


def vanished(room_id: str, job_id: str, room_name: str) -> Reply:
    """A job that was live and that MetaStudio no longer has: how it ended is not known."""
    head = words(
        "⚪ No longer live: {room} · how it ended is unknown (MetaStudio no longer has the job)",
        room=room_label(room_id, room_name),
    )
    return _reply(head, None, _ids(room_id, job_id))


def long_live(job: SmartLiveJob, hours: float, live_for: float) -> Reply:
    """A job live longer than the set hours, once, with a Stop… button for whoever clicks (it
    leads to their own confirmation, through the gate: a note is no permission). The head says
    how long it has really been live (``live_for`` seconds): a job first seen at 27 h is not
    "live for 10 h"."""
    head = words(
        "⏰ *Live for " + span(live_for) + ":* {room}",
        room=room_label(job.room_id or "", job.room_name),
    )
    started = job.started_at
    since = [words("since {at}", at=day_and_time(started))] if started else []
    since.append(words(f"over the {_hours(hours)} set in STOPLIVE_LONG_LIVE_HOURS"))
    small = _ids(job.room_id or "", job.job_id, *since)
    value = JobRef(job.room_id or "", job.job_id).encode()
    more: list[Block] = []
    if len(value) <= MAX_BUTTON_VALUE:
        more.append(
            actions(
                "stream_note",
                button(
                    "Stop…",
                    STOP_AGAIN_ACTION,
                    value,
                    accessibility_label="Stop this stream (you confirm next)",
                ),
            )
        )
    return _reply(head, None, small, *more)


def went_live(job: SmartLiveJob) -> Reply:
    head = words("🟢 Went live: {room}", room=room_label(job.room_id or "", job.room_name))
    return _reply(head, None, _ids(job.room_id or "", job.job_id))


def cannot_watch(why: str, since: float) -> Reply:
    """Said once, after several polls in a row failed; :func:`watching_again` ends it."""
    head = words("⚠️ *Can't watch streams:* {why}", why=data(why, MESSAGE_CAP))
    small = words(
        "Failing since {at}. Streams that end or run long meanwhile are told once MetaStudio "
        "answers again; /stoplive may fail too.",
        at=day_and_time(datetime.fromtimestamp(since, UTC)),
    )
    return _reply(head, None, small)


def watching_again(since: float, now: float) -> Reply:
    head = words("✅ Watching streams again.")
    return _reply(head, None, words("Polls failed for " + span(now - since) + "."))


def _hours(hours: float) -> str:
    """``10 h``, ``1.5 h``: the threshold as it was set."""
    return f"{hours:g} h"


def home_section(status: dict[str, object] | None, channel_id: str | None) -> Mrkdwn:
    """The App Home's line about the stream watch: off, or where it posts and what its last
    poll saw (from any replica: the watcher writes it in the store)."""
    if channel_id is None:
        return words("🔕 *Stream watch:* off (STOPLIVE_NOTIFY_CHANNEL is not set).")
    where = words("🔔 *Stream watch:* on, posting to {c}.", c=channel(channel_id))
    if not status:
        return join(" ", [where, words("No poll yet.")])
    at = status.get("at")
    failing = status.get("failing_since")
    parts = [where]
    if isinstance(failing, int | float) and failing:
        parts.append(
            words(
                "⚠️ Polls failing since {at}: {why}",
                at=day_and_time(datetime.fromtimestamp(failing, UTC)),
                why=data(status.get("why", ""), MESSAGE_CAP),
            )
        )
    if isinstance(at, int | float):
        live = status.get("live")
        count = f", {live} live" if isinstance(live, int) else ""
        parts.append(
            words(
                "Last poll at {at}" + count + ".", at=day_and_time(datetime.fromtimestamp(at, UTC))
            )
        )
    return join(" ", parts)
