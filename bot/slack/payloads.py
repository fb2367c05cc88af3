"""The parts of Slack's payloads that stoplive reads, as strict typed models, and the functions
that sort any payload into one result, :data:`Sorted` ("ours and well-formed", "not ours" or
"malformed"):
:func:`sort_payload` for commands and clicks, :func:`sort_event` for the Events API (the one
event stoplive reads, ``app_home_opened``, and the ``url_verification`` handshake).

Both transports use :func:`sort_payload` before Bolt sees anything, and hand Bolt only the
canonical form it returns (every field we read, with the type we read it as, nothing else). So
a validly signed request or a Socket Mode envelope with odd types can never reach Bolt's
context extraction or a listener and raise there: it is answered 400 (HTTP) or acked (Socket
Mode) with one log line instead. The listeners read the checked models themselves (under
:data:`CHECKED` in Bolt's context), so what they read is what was checked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from yarl import URL

from bot.config import SLACK_RESPONSE_HOSTS

log = logging.getLogger(__name__)

# Slack IDs (users, channels, teams) are short upper-case alphanumerics: U024BE7LH, C0INCIDENT.
SlackId = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,32}$")]
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s]{1,2040}$")]
ShortText = Annotated[str, Field(max_length=4000)]
# What was typed after the command is bounded only by what a transport carries (HTTP bodies
# are at most 256 kB): an overlong text is bad input like any other, and the command parser
# answers it with a short message; refused here, the person would get Slack's opaque error.
CommandText = Annotated[str, Field(max_length=256 * 1024)]


class _Strict(BaseModel):
    # strict: a number where a string belongs is malformed, not quietly converted
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class CommandPayload(_Strict):
    """A slash command (form fields over HTTP, an object in Socket Mode)."""

    command: ShortText
    user_id: SlackId
    channel_id: SlackId
    text: CommandText
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


class _HomeOpened(_Strict):
    type: Literal["app_home_opened"]
    user: SlackId
    tab: Annotated[str, Field(max_length=40)] = "home"
    channel: SlackId | None = None
    event_ts: ShortText | None = None


class AppHomeOpened(_Strict):
    """Someone opened the app's Home tab (an ``event_callback``, JSON over HTTP, an
    ``events_api`` envelope's payload in Socket Mode)."""

    type: Literal["event_callback"]
    event: _HomeOpened
    team_id: SlackId | None = None
    api_app_id: ShortText | None = None
    event_id: ShortText | None = None
    event_time: int | None = None

    @property
    def user_id(self) -> str:
        return self.event.user


class UrlVerification(_Strict):
    """The handshake Slack sends once when an Events API request URL is saved (HTTP mode)."""

    type: Literal["url_verification"]
    challenge: Annotated[str, Field(min_length=1, max_length=200)]


Kind = Literal["command", "block_actions", "ssl_check", "event", "url_verification"]


CHECKED = "stoplive_checked"
"""The Bolt context key under which the transports hand listeners the checked payload: a
listener reads the very model that was checked, not a second parse of its dump."""
Checked = TypeVar("Checked", bound=BaseModel)


def checked_in(context: Mapping[str, Any], model: type[Checked]) -> Checked | None:
    """The ``model`` a transport checked and handed over in Bolt's ``context``; None (and one
    log line) for anything that reached Bolt another way, which the listener only acks."""
    checked = context.get(CHECKED)
    if isinstance(checked, model):
        return checked
    log.warning("ignored an unchecked %s", model.__name__, extra={"reason": "unchecked"})
    return None


@dataclass(frozen=True)
class Accepted:
    """Well-formed and handled: ``payload`` is what Bolt gets (a plain dict: the checked fields
    only, as Socket Mode's are), ``checked`` the model it was dumped from (None for an ``ssl_check``, which no listener reads)."""

    kind: Kind
    payload: dict[str, Any]
    checked: BaseModel | None = field(default=None, compare=False)  # payload says it all


@dataclass(frozen=True)
class Rejected:
    """Not for Bolt, and the transport's answer: 400 malformed, 404 of a kind stoplive does
    not handle (``kind`` names it; Bolt would answer 404), 401 not signed by Slack in the
    window, 413 too large. A refusal is a value, never an exception."""

    status: int
    reason: str  # a fixed word: a metric label and the log line's reason
    skew: int | None = None  # seconds Slack's clock is ahead of ours, when only that failed
    kind: str = ""  # what was not ours (404)


def malformed(reason: str) -> Rejected:
    return Rejected(400, reason)


def not_ours(kind: str) -> Rejected:
    return Rejected(404, "not_handled", kind=kind)


Sorted = Accepted | Rejected
"""The one result of checking anything Slack sends, over either transport."""


def sort_payload(payload: object, response_hosts: frozenset[str] = SLACK_RESPONSE_HOSTS) -> Sorted:
    """Sort a decoded payload: a slash command (has ``command``) or an interactivity payload
    (has ``type``) whose ``response_url`` points at one of ``response_hosts``. Never raises."""
    if not isinstance(payload, dict):
        return malformed("not_an_object")
    if "command" in payload:
        return _validated("command", CommandPayload, payload, response_hosts)
    kind = payload.get("type")
    if not isinstance(kind, str):
        return malformed("no_type")
    if kind == "block_actions":
        return _validated("block_actions", BlockActions, payload, response_hosts)
    return not_ours(kind[:40])


def _validated(
    kind: Literal["command", "block_actions"],
    model: type[CommandPayload] | type[BlockActions],
    payload: dict[str, Any],
    response_hosts: frozenset[str],
) -> Sorted:
    try:
        checked = model.model_validate(payload)
        # yarl: the parser aiohttp connects with, so the host checked is the host posted to
        host = URL(checked.response_url).host
    except (ValidationError, ValueError):  # UnicodeError (a bad IDNA host) is a ValueError
        return malformed(f"bad_{kind}")
    if host not in response_hosts:
        return malformed("foreign_response_url")
    return Accepted(kind, checked.model_dump(exclude_none=True), checked)


def sort_form(
    fields: list[tuple[str, str]], response_hosts: frozenset[str] = SLACK_RESPONSE_HOSTS
) -> Sorted:
    """A form body (already decoded): a slash command's fields, or one ``payload`` field
    holding an interactivity payload as JSON."""
    names = [name for name, _ in fields]
    if len(set(names)) != len(names):
        return malformed("repeated_field")
    form = dict(fields)
    if "payload" in form:
        try:
            return sort_payload(json.loads(form["payload"]), response_hosts)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            return malformed("payload_not_json")
    if "ssl_check" in form:  # Slack checking the certificate of a command's URL
        return Accepted("ssl_check", {})
    if "command" in form:
        return sort_payload(form, response_hosts)
    return malformed("unknown_form")


def sort_event(payload: object) -> Sorted:
    """Sort an Events API body: ``app_home_opened`` on the Home tab is ours; any other
    well-formed event is not; a body or an ``app_home_opened`` with odd types is malformed.
    Never raises."""
    if not isinstance(payload, dict):
        return malformed("not_an_object")
    kind = payload.get("type")
    if kind == "url_verification":
        try:
            handshake = UrlVerification.model_validate(payload)
            return Accepted("url_verification", handshake.model_dump(), handshake)
        except ValidationError:
            return malformed("bad_url_verification")
    if kind != "event_callback":
        return not_ours(kind[:40]) if isinstance(kind, str) else malformed("no_type")
    event = payload.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return malformed("bad_event")
    if event["type"] != "app_home_opened":
        return not_ours(event["type"][:40])
    try:
        checked = AppHomeOpened.model_validate(payload)
    except ValidationError:
        return malformed("bad_event")
    # The Messages tab sends the same event: acked like the Home tab's (an unanswered event is
    # retried, and many failures make Slack turn the subscription off); the listener skips it.
    return Accepted("event", checked.model_dump(exclude_none=True), checked)
