"""Requests as Slack sends them to an app: signed form posts of slash commands and button
clicks, and the buttons of a posted message. The sandbox and the tests both drive the bot
through these, so the bot cannot tell either from Slack."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

TEAM_ID = "T0001"
APP_ID = "A0001"


FORM = "application/x-www-form-urlencoded"


def slack_signature(secret: str, timestamp: str, body: str | bytes) -> str:
    """As Slack signs: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``, over the raw bytes
    (whatever they are)."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + timestamp.encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str | bytes, secret: str, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(secret, ts, body),
    }


def command_body(
    text: str,
    user: str,
    channel: str,
    response_url: str,
    *,
    user_name: str | None = None,
    channel_name: str = "incident",
) -> str:
    """The form body of ``/stoplive text`` typed by ``user`` in ``channel``."""
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": TEAM_ID,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": user_name or user.lower(),
            "command": "/stoplive",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def action_payload(
    action_id: str,
    value: str,
    user: str,
    channel: str,
    response_url: str,
    *,
    block_id: str = "stoplive.confirmation",
    user_name: str | None = None,
    channel_name: str = "incident",
    message_ts: str = "1700000000.000100",
    is_ephemeral: bool = True,
) -> dict[str, Any]:
    """The ``block_actions`` payload of a click on a button in a message (an ephemeral one
    unless told otherwise)."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": user, "username": user_name or user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": "1.2.4",
        "channel": {"id": channel, "name": channel_name},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def buttons(message: Mapping[str, Any]) -> dict[str, str]:
    """action_id → value of every button in a message (the last one wins per action)."""
    found: dict[str, str] = {}
    for block in message.get("blocks", []):
        for element in block.get("elements", []) + (
            [block["accessory"]] if "accessory" in block else []
        ):
            if element.get("type") == "button":
                found[element["action_id"]] = element["value"]
    return found
