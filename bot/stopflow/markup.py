"""The pieces every stoplive message is made of (Block Kit), and escaping.

Words are written for someone stopping a stream at 3 a.m.: say what happened, what it means,
and what to do next. Anything that did not come from us (IDs, room names, MetaStudio's error
text) goes through :func:`escape` so it cannot mention anyone or break the formatting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.metastudio.models import SmartLiveJob

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)

Block = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """A Slack message: ``text`` is the notification / fallback, ``blocks`` what is shown."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}


def escape(text: object) -> str:
    """Neutralise Slack markup in untrusted text: ``&``, ``<``, ``>`` as Slack asks, and a
    zero-width space after the ``@`` of ``@channel``/``@here``/``@everyone``."""
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), escaped)


def code(text: object) -> str:
    inner = escape(text).replace("`", "'")
    return f"`{inner}`"


def mention(slack_user_id: str) -> str:
    return f"<@{slack_user_id}>"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")


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


def where(room_id: str, room_name: str | None) -> str:
    return f"room {code(room_id)}" + (f" ({escape(room_name)})" if room_name else "")


def job_facts(job: SmartLiveJob, now: datetime) -> str:
    """State, and for how long it has been live (or when it ended)."""
    parts = [f"*State:* {escape(job.state)}"]
    started, ended = job.started_at, job.ended_at
    if ended and started:
        parts.append(f"ended {clock(ended)} after {span((ended - started).total_seconds())}")
    elif started:
        parts.append(f"live for {span((now - started).total_seconds())} (since {clock(started)})")
    return " · ".join(parts)
