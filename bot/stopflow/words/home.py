"""The words of history: the ``/stoplive recent`` list and the App Home view, built from the
journal entries :mod:`bot.stopflow.history` read. Who sees what was decided there; this phrases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import HeaderBlock, PlainTextObject
from slack_sdk.models.views import View

from bot.stopflow.allowlist import Grant
from bot.stopflow.outcome import Verdict
from bot.stopflow.policy import Policy
from bot.stopflow.store import JournalEntry
from bot.stopflow.words.actions import HOME_ACTION
from bot.stopflow.words.common import HEADS
from bot.stopflow.words.markup import (
    ID_CAP,
    MAX_BLOCKS,
    NAME_CAP,
    Block,
    Mrkdwn,
    Reply,
    channel,
    context,
    data,
    day_and_time,
    join,
    mention,
    section,
    words,
)

MAX_HOME_BLOCKS = 100  # Slack's limit for a Home tab view
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,8}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{1,30}")
_WORKSPACE = re.compile(r"https://[a-z0-9][a-z0-9.-]{0,200}\.slack\.com/")
IN_PROGRESS = "⏳ In progress"


def permalink(workspace_url: str, channel_id: str, ts: str) -> str | None:
    """The link to a channel message, in the form Slack's own permalinks take
    (``https://acme.slack.com/archives/C0123/p1700000000000100``), built from the workspace URL
    Slack gave in ``auth.test``; None unless every piece is well-formed (nothing else may go
    inside ``<…|…>``)."""
    if not (
        _WORKSPACE.fullmatch(workspace_url) and _CHANNEL.fullmatch(channel_id) and _TS.fullmatch(ts)
    ):
        return None
    return f"{workspace_url}archives/{channel_id}/p{ts.replace('.', '')}"


def result_words(entry: JournalEntry) -> Mrkdwn:
    """The verdict an entry ended with, with its emoji; "In progress" until it is closed."""
    if not entry.finished_at:
        return words(IN_PROGRESS)
    try:
        return words(HEADS[Verdict(entry.outcome)])
    except ValueError:  # a verdict this version does not know (a newer replica wrote it)
        return words("❓ {o}", o=data(entry.outcome, ID_CAP))


def entry_text(entry: JournalEntry, workspace_url: str) -> Mrkdwn:
    """One stop in two lines: result, by whom, when; then where, the IDs and the link."""
    head = words(
        "*{r}* · by {who} · {when}",
        r=result_words(entry),
        who=mention(entry.requester),
        when=day_and_time(datetime.fromtimestamp(entry.created_at, UTC)),
    )
    link = permalink(workspace_url, entry.channel_id, entry.channel_ts)
    where = [channel(entry.channel_id)]
    if link is not None:
        where.append(Mrkdwn(f"<{link}|channel message>"))
    if entry.room_name:
        where.append(data(entry.room_name, NAME_CAP))
    where.append(words("Room {r} · Job {j}", r=data(entry.room_id, ID_CAP), j=data(entry.job_id)))
    # a replica's own sweep may take its own stop (its lease lapsed while the store refused
    # writes) and leave it running: that is not a restart
    if entry.recovered_from and entry.recovered_from != entry.owner:
        where.append(words("finished after a restart"))
    return words("{h}\n{w}", h=head, w=join(" · ", where))


def _entries(entries: Sequence[JournalEntry], workspace_url: str, room: int) -> list[Block]:
    """As many entries as ``room`` blocks allow, then "…and N more"."""
    if len(entries) <= room:
        return [section(entry_text(e, workspace_url)) for e in entries]
    shown = [section(entry_text(e, workspace_url)) for e in entries[: room - 1]]
    hidden = len(entries) - (room - 1)
    return [*shown, context(words(f"…and {hidden} older stops."))]


def _count(entries: Sequence[JournalEntry]) -> str:
    n = len(entries)
    return f"{n} stop{'s' if n != 1 else ''} in the last 24 h"


def recent_reply(
    entries: Sequence[JournalEntry] | None, workspace_url: str, restricted: bool = False
) -> Reply:
    """``/stoplive recent``, for the requester only. ``None``: the journal could not be read."""
    if entries is None:
        return Reply(
            text=words(
                "⚠️ Couldn't read the stop history: the state store did not answer. "
                "Try again in a minute; stops are not affected if it is back."
            )
        )
    scope = " in your rooms" if restricted else ""
    if not entries:
        return Reply(text=words("🕘 No stops" + scope + " in the last 24 h."))
    head = words("🕘 *" + _count(entries) + scope + "*, newest first.")
    text = words(
        "{h}\n{first}",
        h=head,
        first=entry_text(entries[0], workspace_url),
    )
    blocks = [section(head), *_entries(entries, workspace_url, MAX_BLOCKS - 1)]
    return Reply(text=text, blocks=blocks)


def access_text(grant: Grant | None, policy: Policy) -> Mrkdwn:
    """Whether the viewer may stop streams, as whom, in which rooms and channels."""
    if grant is None:
        return words(
            "⛔ *You may not stop streams:* you are not on the stoplive allowlist. "
            "Ask {c} to add your Slack user ID.",
            c=data(policy.contact, NAME_CAP),
        )
    lines = [
        words(
            "✅ *You may stop streams* as MetaStudio user {u}.",
            u=data(grant.app_user_id, ID_CAP),
        )
    ]
    if grant.rooms is None:
        lines.append(words("Rooms: every room."))
    else:
        rooms = sorted(grant.rooms)
        shown = [data(r, ID_CAP) for r in rooms[:20]]
        if len(rooms) > 20:
            shown.append(words(f"and {len(rooms) - 20} more"))
        lines.append(words("Rooms: only {r}.", r=join(", ", shown) if shown else words("none")))
    if policy.allowed_channels:
        chans = sorted(policy.allowed_channels)
        shown = [channel(c) for c in chans[:20]]
        if len(chans) > 20:
            shown.append(words(f"and {len(chans) - 20} more"))
        lines.append(words("Use /stoplive in {c}.", c=join(", ", shown)))
    lines.append(words("`/stoplive <room_id> <job_id>` stops a job after you confirm."))
    return join("\n", lines)


def home_view(
    grant: Grant | None,
    policy: Policy,
    entries: Sequence[JournalEntry] | None,
    workspace_url: str,
) -> dict[str, Any]:
    """The Home tab: the viewer's access, then (for someone on the allowlist) the last day of
    stops they may see. ``entries`` None: the journal could not be read."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="stoplive")).to_dict(),
        section(access_text(grant, policy)),
    ]
    if grant is not None:
        scope = " in your rooms" if grant.rooms is not None else ""
        if entries is None:
            blocks.append(
                section(words("⚠️ Couldn't read the stop history: the state store did not answer."))
            )
        elif not entries:
            blocks.append(section(words("🕘 No stops" + scope + " in the last 24 h.")))
        else:
            blocks.append(HeaderBlock(text=PlainTextObject(text=_count(entries) + scope)).to_dict())
            blocks.extend(_entries(entries, workspace_url, MAX_HOME_BLOCKS - len(blocks)))
    view = View(type="home", callback_id=HOME_ACTION, blocks=blocks)
    return view.to_dict()
