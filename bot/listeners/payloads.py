"""The parts of Slack's payloads that stoplive reads, as strict typed models, and the one
function that sorts any payload into "ours and well-formed", "not ours" or "malformed".

Both transports use :func:`sort_payload` before Bolt sees anything, and hand Bolt only the
canonical form it returns (every field we read, with the type we read it as, nothing else). So
a validly signed request or a Socket Mode envelope with odd types can never reach Bolt's
context extraction or a listener and raise there: it is answered 400 (HTTP) or acked (Socket
Mode) with one log line instead. The listeners parse with the same models, so what they read
is what was checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.config import SLACK_RESPONSE_HOSTS

# Slack IDs (users, channels, teams) are short upper-case alphanumerics: U024BE7LH, C0INCIDENT.
SlackId = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,32}$")]
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s]{1,2040}$")]
ShortText = Annotated[str, Field(max_length=4000)]


class _Strict(BaseModel):
    # strict: a number where a string belongs is malformed, not quietly converted
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class SlashCommand(_Strict):
    """A slash command (form fields over HTTP, an object in Socket Mode)."""

    command: ShortText
    user_id: SlackId
    channel_id: SlackId
    text: ShortText
    response_url: HttpUrl
    team_id: SlackId | None = None
    api_app_id: ShortText | None = None
    trigger_id: ShortText | None = None


class _Ref(_Strict):
    id: SlackId


class _Container(_Strict):
    channel_id: SlackId | None = None


class Action(_Strict):
    action_id: Annotated[str, Field(min_length=1, max_length=255)]
    block_id: ShortText | None = None
    value: Annotated[str, Field(max_length=2000)] = ""
    type: ShortText | None = None
    action_ts: ShortText | None = None


class BlockActions(_Strict):
    """A button click (``payload=`` JSON over HTTP, an object in Socket Mode)."""

    type: Literal["block_actions"]
    user: _Ref
    actions: Annotated[list[Action], Field(min_length=1, max_length=25)]
    response_url: HttpUrl
    channel: _Ref | None = None
    container: _Container = _Container()
    team: _Ref | None = None
    api_app_id: ShortText | None = None
    trigger_id: ShortText | None = None

    @property
    def channel_id(self) -> str:
        if self.channel is not None:
            return self.channel.id
        return self.container.channel_id or ""


@dataclass(frozen=True)
class Ours:
    """Well-formed and handled: ``canonical`` is what Bolt gets (a plain dict)."""

    kind: Literal["command", "block_actions", "ssl_check"]
    canonical: dict[str, Any]


@dataclass(frozen=True)
class NotOurs:
    """Well-formed enough, but of a kind stoplive does not handle (Bolt would answer 404)."""

    kind: str


@dataclass(frozen=True)
class Malformed:
    reason: str  # a fixed word, safe as a metric label


Sorted = Ours | NotOurs | Malformed


def sort_payload(payload: object, response_hosts: frozenset[str] = SLACK_RESPONSE_HOSTS) -> Sorted:
    """Sort a decoded payload: a slash command (has ``command``) or an interactivity payload
    (has ``type``) whose ``response_url`` points at one of ``response_hosts``. Never raises."""
    if not isinstance(payload, dict):
        return Malformed("not_an_object")
    if "command" in payload:
        return _validated("command", SlashCommand, payload, response_hosts)
    kind = payload.get("type")
    if not isinstance(kind, str):
        return Malformed("no_type")
    if kind == "block_actions":
        return _validated("block_actions", BlockActions, payload, response_hosts)
    return NotOurs(kind[:40])


def _validated(
    kind: Literal["command", "block_actions"],
    model: type[SlashCommand] | type[BlockActions],
    payload: dict[str, Any],
    response_hosts: frozenset[str],
) -> Sorted:
    try:
        checked = model.model_validate(payload)
        host = urlsplit(checked.response_url).hostname
    except (ValidationError, ValueError):
        return Malformed(f"bad_{kind}")
    if host not in response_hosts:
        return Malformed("foreign_response_url")
    return Ours(kind, checked.model_dump(exclude_none=True))


def sort_form(
    fields: list[tuple[str, str]], response_hosts: frozenset[str] = SLACK_RESPONSE_HOSTS
) -> Sorted:
    """A form body (already decoded): a slash command's fields, or one ``payload`` field
    holding an interactivity payload as JSON."""
    names = [name for name, _ in fields]
    if len(set(names)) != len(names):
        return Malformed("repeated_field")
    form = dict(fields)
    if "payload" in form:
        try:
            return sort_payload(json.loads(form["payload"]), response_hosts)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            return Malformed("payload_not_json")
    if "ssl_check" in form:  # Slack checking the certificate of a command's URL
        return Ours("ssl_check", {})
    if "command" in form:
        return sort_payload(form, response_hosts)
    return Malformed("unknown_form")
