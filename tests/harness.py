"""Drive a running stoplive the way Slack does: signed form posts over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.app import Stoplive
from bot.server import Transport
from tests.standins.metastudio import MetaStudioStandIn
from tests.standins.slack import SlackStandIn

SIGNING_SECRET = "8f742231b10e8888abcd99aaabbb85a5"
ALICE, BOB, MALLORY = "U0ALICE01", "U0BOB0002", "U0MALLORY"
CHANNEL = "C0INCIDENT"


def slack_signature(secret: str, timestamp: str, body: str) -> str:
    """As Slack signs: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(secret, ts, body),
    }


def command_body(text: str, user: str, channel: str, response_url: str) -> str:
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": "T0001",
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "incident",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/stoplive",
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def action_payload(
    action_id: str, value: str, user: str, channel: str, response_url: str
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-unused",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": channel,
            "is_ephemeral": True,
        },
        "trigger_id": "1.2.4",
        "channel": {"id": channel, "name": "incident"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "stoplive.confirmation",
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """action_id → value of every button in a message (the last one wins per action)."""
    found: dict[str, str] = {}
    for block in message.get("blocks", []):
        for element in block.get("elements", []) + (
            [block["accessory"]] if "accessory" in block else []
        ):
            if element.get("type") == "button":
                found[element["action_id"]] = element["value"]
    return found


@dataclass
class Harness:
    stoplive: Stoplive
    transport: Transport
    slack: SlackStandIn
    metastudio: MetaStudioStandIn
    http: httpx.AsyncClient

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.transport.port}/slack/events"

    async def command(
        self, text: str, user: str = ALICE, channel: str = CHANNEL
    ) -> tuple[httpx.Response, str]:
        """Post ``/stoplive text``; returns the HTTP answer (the ack) and the response_url hook."""
        hook = uuid.uuid4().hex[:10]
        body = command_body(text, user, channel, self.slack.response_url(hook))
        return await self.http.post(
            self.events_url, content=body, headers=signed_headers(body)
        ), hook

    async def click(
        self, action_id: str, value: str, user: str = ALICE, channel: str = CHANNEL
    ) -> tuple[httpx.Response, str]:
        hook = uuid.uuid4().hex[:10]
        payload = action_payload(action_id, value, user, channel, self.slack.response_url(hook))
        body = urlencode({"payload": json.dumps(payload)})
        return await self.http.post(
            self.events_url, content=body, headers=signed_headers(body)
        ), hook

    async def first_post(self, hook: str) -> dict[str, Any]:
        return await self.slack.wait_for(lambda: (self.slack.posts(hook) or [None])[0])

    async def confirmation(self, text: str, user: str = ALICE) -> tuple[str, str]:
        """Run the command and return (confirm button value, command hook)."""
        response, hook = await self.command(text, user)
        assert response.status_code == 200
        message = await self.first_post(hook)
        return buttons(message)["stoplive.confirm"], hook

    def final_channel_message(self) -> dict[str, Any] | None:
        updates = self.slack.calls("chat.update")
        return updates[-1].args if updates else None


FORM = "application/x-www-form-urlencoded"


def signed_bytes_headers(
    body: bytes,
    content_type: str = FORM,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> dict[str, str]:
    """As Slack signs any body: the HMAC is over the raw bytes, whatever they are."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
