"""Slack messages as a terminal shows them: mrkdwn and Block Kit, as posted, turned into rich Text.

The sandbox prints what the bot sent Slack, so what people read in the terminal is what Slack
would show: ``*bold*``, ``_italic_``, ``~strike~``, `` `code` ``, ``:emoji:``, ``<@U…>`` as
``@alice``, ``<#C…>`` as ``#incidents``, ``<!date^…|fallback>`` as its fallback, links as their
label, and ``&lt; &gt; &amp;`` decoded last (so escaped text stays text); control characters are
never passed to the terminal. Buttons are numbered
so that ``press N`` can find them. Nothing here raises on a malformed message: what cannot be
read is shown as such.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.emoji import Emoji, NoEmoji
from rich.text import Text

CODE_STYLE = "cyan"
MENTION_STYLE = "bold magenta"
LINK_STYLE = "underline"
CONTEXT_STYLE = "dim"
BUTTON_STYLES = {"danger": "bold red", "primary": "bold green"}

# Slack names that rich's table (GitHub's names) lacks or spells differently.
_SLACK_ONLY_EMOJI = {"octagonal_sign": "🛑", "stop_sign": "🛑", "simple_smile": "🙂"}
# Control characters (escape sequences among them) would steer the terminal, not be read.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ENTITY = re.compile(r"&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
_TOKEN = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|(?P<angle><[^<>\n]+>)"
    r"|(?P<bold>(?<![\w*])\*(?=\S)[^*\n]+?(?<=\S)\*(?![\w*]))"
    r"|(?P<italic>(?<![\w_])_(?=\S)[^_\n]+?(?<=\S)_(?![\w_]))"
    r"|(?P<strike>(?<![\w~])~(?=\S)[^~\n]+?(?<=\S)~(?![\w~]))"
    r"|(?P<emoji>:[a-z0-9_+\-]+:)"
)
_SPAN_STYLES = {"bold": "bold", "italic": "italic", "strike": "strike"}


@dataclass(frozen=True)
class Names:
    """Who and where the IDs in a message are: ``<@U0ALICE01>`` reads as ``@alice``."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    block_id: str
    style: str | None = None
    url: str | None = None  # a link button: Slack opens it (and still tells the app)


@dataclass
class Shown:
    """A message as printed: its lines, and its buttons in the order they are numbered."""

    lines: list[Text] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


def printable(text: str) -> str:
    """``text`` with every control character (escape sequences among them) shown as ``�``."""
    return _CONTROL.sub("\ufffd", text)


def decode_entities(text: str) -> str:
    """Slack's three HTML entities, in one pass (``&amp;lt;`` stays ``&lt;``)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def emoji(name: str) -> str | None:
    """The character for a Slack emoji name (without colons), or None if unknown."""
    if name in _SLACK_ONLY_EMOJI:
        return _SLACK_ONLY_EMOJI[name]
    try:
        return str(Emoji(name))
    except NoEmoji:
        return None


def inline(text: str, names: Names, style: str = "") -> Text:
    """One mrkdwn string (newlines kept) as styled text; control characters shown as ``�``."""
    text = printable(text)
    out = Text()
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() > position:
            out.append(decode_entities(text[position : match.start()]), style=style)
        kind, token = match.lastgroup, match.group()
        if kind == "code":
            out.append(decode_entities(token[1:-1]), style=f"{style} {CODE_STYLE}".strip())
        elif kind == "angle":
            out.append_text(_angle(token[1:-1], names, style))
        elif kind == "emoji":
            out.append(emoji(token[1:-1]) or token, style=style)
        else:
            assert kind is not None
            inner_style = f"{style} {_SPAN_STYLES[kind]}".strip()
            out.append_text(inline(token[1:-1], names, inner_style))
        position = match.end()
    if position < len(text):
        out.append(decode_entities(text[position:]), style=style)
    return out


def _angle(inside: str, names: Names, style: str) -> Text:
    """``<…>``: a mention, a channel, a special (``!here``, ``!date``) or a link."""
    target, _, label = inside.partition("|")
    label = decode_entities(label)
    mention = f"{style} {MENTION_STYLE}".strip()
    if target.startswith("@"):
        user = target[1:]
        return Text("@" + (names.users.get(user) or label.lstrip("@") or user), style=mention)
    if target.startswith("#"):
        channel = target[1:]
        return Text("#" + (names.channels.get(channel) or label.lstrip("#") or channel), mention)
    if target.startswith("!"):
        special = target[1:].split("^", 1)[0]
        if special in ("here", "channel", "everyone"):
            return Text("@" + special, style=mention)
        return Text(label or special, style=style)
    return Text(label or decode_entities(target), style=f"{style} {LINK_STYLE}".strip())


def text_object(obj: object, names: Names, style: str = "") -> Text:
    """A Block Kit text object (``mrkdwn`` or ``plain_text``); anything else, shown as unread."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        return Text("[unreadable text]", style=CONTEXT_STYLE)
    if obj.get("type") == "plain_text":
        return _plain(obj["text"], style)
    return inline(obj["text"], names, style)


def _plain(text: str, style: str) -> Text:
    """plain_text: only ``:emoji:`` names are turned into characters."""
    text = printable(text)
    return Text(
        re.sub(r":([a-z0-9_+\-]+):", lambda m: emoji(m.group(1)) or m.group(), text), style=style
    )


def message(payload: Mapping[str, Any], names: Names) -> Shown:
    """A message as posted (``text`` and optional ``blocks``): blocks win, as in Slack."""
    shown = Shown()
    blocks = payload.get("blocks")
    if isinstance(blocks, str):  # a form-encoded post carries blocks as JSON text
        try:
            blocks = json.loads(blocks)
        except ValueError:
            blocks = None
    if not isinstance(blocks, list) or not blocks:
        text = payload.get("text")
        shown.lines.extend(inline(text if isinstance(text, str) else "", names).split("\n"))
        return shown
    for block in blocks:
        _block(block, names, shown)
    return shown


def _block(block: object, names: Names, shown: Shown) -> None:
    if not isinstance(block, Mapping):
        shown.lines.append(Text("[unreadable block]", style=CONTEXT_STYLE))
        return
    kind = block.get("type")
    block_id = str(block.get("block_id") or "")
    if kind == "section":
        if "text" in block:
            shown.lines.extend(text_object(block["text"], names).split("\n"))
        for item in _list(block.get("fields")):
            shown.lines.extend(text_object(item, names).split("\n"))
        if "accessory" in block:
            shown.lines.append(_buttons([block["accessory"]], block_id, names, shown))
    elif kind == "context":
        parts = [_context_element(e, names) for e in _list(block.get("elements"))]
        shown.lines.extend(Text("  ").join(parts).split("\n"))
    elif kind == "actions":
        shown.lines.append(_buttons(_list(block.get("elements")), block_id, names, shown))
    elif kind == "header":
        shown.lines.append(text_object(block.get("text"), names, "bold"))
    elif kind == "divider":
        shown.lines.append(Text("─" * 24, style=CONTEXT_STYLE))
    else:
        shown.lines.append(Text(f"[{kind} block]", style=CONTEXT_STYLE))


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _context_element(element: object, names: Names) -> Text:
    if isinstance(element, Mapping) and element.get("type") == "image":
        return Text(f"[{element.get('alt_text') or 'image'}]", style=CONTEXT_STYLE)
    return text_object(element, names, CONTEXT_STYLE)


def _buttons(elements: list[object], block_id: str, names: Names, shown: Shown) -> Text:
    """``[1] Stop stream  [2] Cancel``: numbered on from the message's earlier buttons."""
    line = Text()
    for element in elements:
        if not isinstance(element, Mapping) or element.get("type") != "button":
            continue
        style = element.get("style")
        label = text_object(element.get("text"), names, BUTTON_STYLES.get(str(style), "bold"))
        shown.buttons.append(
            Button(
                label=label.plain,
                action_id=str(element.get("action_id") or ""),
                value=str(element.get("value") or ""),
                block_id=block_id,
                style=str(style) if style else None,
                url=str(element["url"]) if element.get("url") else None,
            )
        )
        if line:
            line.append("  ")
        line.append(f"[{len(shown.buttons)}] ")
        line.append_text(label)
        if element.get("url"):
            line.append(" ↗")
    return line
