"""The pieces every stoplive message is made of (Block Kit within Slack's limits), and escaping.

Two kinds of text go into a message, and the types keep them apart. Our own words are
templates passed to :func:`words`; anything that did not come from us (a room name, an error
message, a state, even an ID) becomes :class:`Mrkdwn` only through :func:`data`, which shows
it as data: one line, no control or bidi characters, inside a code span (so ``*bold*``, links,
emoji codes and look-alike sentences stay inert), ``&<>`` escaped as Slack asks, broadcast
mentions defused, and cut with "…" to a length cap. Block builders accept only :class:`Mrkdwn`,
so foreign text cannot reach a block unescaped. Blocks are built with ``slack_sdk.models`` so
the library checks Slack's limits; what it does not check (50 blocks a message) we do.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NewType

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.metastudio.models import JobState, Liveness, SmartLiveJob

Block = dict[str, Any]
Mrkdwn = NewType("Mrkdwn", str)
"""Text that is safe to show as Slack mrkdwn: built only by :func:`words` and :func:`data`."""

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_TEXT = 3000  # the top-level ``text``: Slack truncates long ones; a notification is short
MAX_PLAIN = 500  # the fallback sent when Slack refuses the full message

# How much of each kind of foreign text a message shows.
NAME_CAP = 80
ID_CAP = 70
MESSAGE_CAP = 300

_BROADCAST = re.compile(r"@(channel|here|everyone|group)", re.IGNORECASE)
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{1,30}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{1,30}")
_BACKTICK_STAND_IN = "\u02cb"  # MODIFIER LETTER GRAVE ACCENT: looks like ` but ends no span
_BROADCAST_AT = "\uff20"  # FULLWIDTH COMMERCIAL AT: reads as @, mentions nobody


@dataclass(frozen=True)
class Reply:
    """A Slack message: ``text`` is the notification / fallback, ``blocks`` what is shown.

    Links never unfurl (a room name must not pull a preview of somebody's page into the
    channel). :meth:`plain` is what to send if Slack still refuses the blocks.
    """

    text: str
    blocks: list[Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", fit(self.text, MAX_TEXT))
        object.__setattr__(self, "blocks", list(self.blocks[:MAX_BLOCKS]))

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "unfurl_links": False, "unfurl_media": False}
        if self.blocks:
            body["blocks"] = self.blocks
        return body

    def plain(self) -> Reply:
        """The short text-only version: the same (already escaped) words, no blocks."""
        return Reply(text=fit(self.text, MAX_PLAIN))


# --- text ------------------------------------------------------------------------------------


def one_line(value: object) -> str:
    """``value`` as a single line: control, format (bidi, zero-width), surrogate, private-use
    and unassigned characters removed; line breaks and runs of spaces become one space."""
    text = "" if value is None else str(value)
    if text.isprintable():
        # Nothing to remove: ``isprintable`` is False for every "C" (other) and "Z"
        # (separator) character but the ASCII space. Most text is IDs and names, and this
        # C-speed check spares them the per-character loop below (bench/burst.py).
        return " ".join(text.split())
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "Z" or char in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85":
            kept.append(" ")
        elif category[0] != "C":
            kept.append(char)
    return " ".join("".join(kept).split())


def _entities(text: str) -> str:
    """Slack's three escapes, then broadcast words defused."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: _BROADCAST_AT + m.group(1), escaped)


def _cut_escaped(escaped: str, limit: int, clipped: bool = False) -> str:
    """At most ``limit`` characters, "…" included, never ending inside an ``&…;`` entity.
    ``clipped``: the text was already shortened, so it ends with "…" whatever its length."""
    if len(escaped) <= limit and not clipped:
        return escaped
    if clipped and len(escaped) < limit:
        return escaped + "…"
    head = escaped[: max(limit - 1, 0)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + "…"


def data(value: object, limit: int = NAME_CAP) -> Mrkdwn:
    """The one way foreign text enters a message: shown as data, in a code span, at most
    ``limit`` characters between the backticks. Empty (after cleaning) shows as ``(blank)``."""
    raw = "" if value is None else str(value)
    scan = scan_length(limit)  # a megabyte of error text must not hold the event loop
    line = one_line(raw[:scan]).replace("`", _BACKTICK_STAND_IN)
    clipped = len(raw) > scan
    if not line and not clipped:
        return Mrkdwn("(blank)")
    shown = _cut_escaped(_entities(line), max(limit, 2), clipped=clipped)
    return Mrkdwn(f"`{shown}`")


def scan_length(limit: int) -> int:
    """How much of a foreign text :func:`data` reads to show ``limit`` characters: room
    for every character to be escaped or dropped several times over."""
    return limit * 8 + 64


def plain(value: object, limit: int = MAX_BUTTON_TEXT) -> str:
    """Foreign text for a ``plain_text`` field (button labels, accessibility labels): one
    line, no control characters, no broadcast words, no ``<…>`` tokens (angle brackets become
    look-alike quotes, as plain text has no escapes), cut with "…"."""
    raw = "" if value is None else str(value)
    line = one_line(raw[: scan_length(limit)]).replace("<", "\u2039").replace(">", "\u203a")
    line = _BROADCAST.sub(lambda m: _BROADCAST_AT + m.group(1), line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def words(template: str, /, **values: Mrkdwn) -> Mrkdwn:
    """Our own words, with ``{name}`` slots for :class:`Mrkdwn` pieces. The template's ``&<>``
    are escaped too, so a placeholder such as ``<room_id>`` shows as written."""
    return Mrkdwn(_escaped_template(template).format(**values))


@functools.lru_cache(maxsize=1024)
def _escaped_template(template: str) -> str:
    """Templates are our own sentences (only numbers, spans of time and our own words are
    ever spliced into one), few enough that each is escaped once, not once per message."""
    return _entities(template)


def join(separator: str, parts: list[Mrkdwn]) -> Mrkdwn:
    return Mrkdwn(_entities(separator).join(parts))


def fit(text: str, limit: int) -> str:
    """Cut already-safe mrkdwn to ``limit`` characters at a space, so no ``<…>`` token, entity
    or word is split. Messages are built to fit; this is the last guard."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space > limit // 2:
        head = head[:space]
    opened, amp = head.rfind("<"), head.rfind("&")
    if opened > head.rfind(">"):
        head = head[:opened]
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + "…"


def mention(slack_user_id: str) -> Mrkdwn:
    """A user mention, only for a well-formed Slack user ID; anything else is shown as data."""
    if _SLACK_USER.fullmatch(slack_user_id):
        return Mrkdwn(f"<@{slack_user_id}>")
    return data(slack_user_id, ID_CAP)


def channel(channel_id: str) -> Mrkdwn:
    """A channel link, only for a well-formed Slack channel ID; anything else is shown as data."""
    if _SLACK_CHANNEL.fullmatch(channel_id):
        return Mrkdwn(f"<#{channel_id}>")
    return data(channel_id, ID_CAP)


_SLACK_LINK = re.compile(
    r"https://[a-z0-9][a-z0-9.-]{0,200}\.slack\.com/[A-Za-z0-9/_.?=&%-]{1,500}"
)


def slack_link(url: str, label: str) -> Mrkdwn | None:
    """A link to a page of Slack itself (a message's permalink), labelled with our own words;
    None unless ``url`` is plainly one (nothing that could close the ``<…|…>`` token)."""
    if not _SLACK_LINK.fullmatch(url):
        return None
    return Mrkdwn(f"<{url.replace('&', '&amp;')}|{_entities(label)}>")


def clock(moment: datetime) -> Mrkdwn:
    """A clock time each reader sees in their own zone; ``14:03 UTC`` where Slack cannot."""
    utc = moment.astimezone(UTC)
    return Mrkdwn(f"<!date^{int(utc.timestamp())}^{{time}}|{utc:%H:%M} UTC>")


def day_and_time(moment: datetime) -> Mrkdwn:
    """A day and clock time in each reader's zone ("Yesterday at 23:10", "Today at 01:05");
    ``Nov 27 01:05 UTC`` where Slack cannot. For lists that reach back past midnight."""
    utc = moment.astimezone(UTC)
    return Mrkdwn(
        f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} at {{time}}|{utc:%b %d %H:%M} UTC>"
    )


def span(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``42 s``: how long, at a glance."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


# --- MetaStudio things, in plain words ------------------------------------------------------

STATE_WORDS: dict[JobState, str] = {
    JobState.WAITING: "Starting",
    JobState.PROCESSING: "Live",
    JobState.SUCCEED: "Ended normally",
    JobState.SUCCESS: "Ended normally",
    JobState.FAILED: "Ended with an error",
    JobState.CANCELED: "Cancelled",
    JobState.BLOCKED: "Blocked",
}


def state_word(job: SmartLiveJob) -> str:
    """What MetaStudio's state means to a person; the raw state goes in the small print."""
    state = job.known_state
    return STATE_WORDS[state] if state is not None else "Unknown state"


def room_label(room_id: str, room_name: str | None) -> Mrkdwn:
    """The room's name, or a short form of its ID when it has none (the full ID is in the
    small print)."""
    if room_name and one_line(room_name):
        return data(room_name, NAME_CAP)
    return short_id("room", room_id)


def short_id(kind: str, resource_id: str) -> Mrkdwn:
    """``job 36f06524…``: enough of an ID to tell apart the lines of one list (the full ID is
    in the small print, or in the thread)."""
    short = one_line(resource_id)
    return data(f"{kind} {short[:8]}…" if len(short) > 9 else f"{kind} {short}", NAME_CAP)


def job_facts(job: SmartLiveJob, now: datetime) -> Mrkdwn:
    """Plain state (MetaStudio's own word for one stoplive does not know), and for how long
    it has been live, or when it ended. "Live for" only for a live job: an unknown state may
    be over, and an ended job without an end time (a block) is not live at all."""
    if job.liveness is Liveness.UNKNOWN:
        parts = [words("MetaStudio reports {s}", s=data(job.state, ID_CAP))]
    else:
        parts = [words(state_word(job))]
    started, ended = job.started_at, job.ended_at
    if ended and started:
        length = span((ended - started).total_seconds())
        parts.append(words("ended at {at} after " + length, at=clock(ended)))
    elif started and job.is_live:
        length = span((now - started).total_seconds())
        parts.append(words("live for " + length + " (since {at})", at=clock(started)))
    elif started:
        parts.append(words("started at {at}", at=clock(started)))
    if reason := job.end_reason:  # a block's reason, an error: what a responder acts on
        parts.append(words("MetaStudio says: {r}", r=data(reason, MESSAGE_CAP)))
    return join(" · ", parts)


# --- blocks ----------------------------------------------------------------------------------


def section(text: Mrkdwn, accessory: ButtonElement | None = None) -> Block:
    block = SectionBlock(
        text=MarkdownTextObject(text=fit(text, MAX_SECTION_TEXT)), accessory=accessory
    )
    return block.to_dict()


def context(*parts: Mrkdwn) -> Block:
    elements = [MarkdownTextObject(text=fit(p, MAX_SECTION_TEXT)) for p in parts]
    return ContextBlock(elements=elements[:MAX_CONTEXT_ELEMENTS]).to_dict()


def button(
    label: str,
    action_id: str,
    value: str | None = None,
    *,
    url: str | None = None,
    style: str | None = None,
    accessibility_label: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    """A button; ``label`` and ``accessibility_label`` are cut to fit (they may name a room).
    ``confirm``: Slack's own "Are you sure?" dialog before the click is sent."""
    return ButtonElement(
        confirm=confirm,
        text=PlainTextObject(text=plain(label, MAX_BUTTON_TEXT), emoji=True),
        action_id=action_id,
        value=value,
        url=url,
        style=style,
        accessibility_label=plain(accessibility_label, MAX_BUTTON_TEXT)
        if accessibility_label
        else None,
    )


def actions(block_id: str, *elements: ButtonElement) -> Block:
    return ActionsBlock(block_id=block_id, elements=list(elements[:MAX_ACTIONS_ELEMENTS])).to_dict()
