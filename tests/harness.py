"""Drive a running stoplive the way Slack does: signed form posts over real HTTP."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.app import Stoplive
from bot.sandbox import slack_requests
from bot.sandbox.slack_requests import action_payload, buttons, command_body
from bot.sandbox.standins.metastudio import MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from bot.slack.server import Transport

SIGNING_SECRET = "8f742231b10e8888abcd99aaabbb85a5"
ALICE, BOB, MALLORY = "U0ALICE01", "U0BOB0002", "U0MALLORY"
CHANNEL = "C0INCIDENT"


def signed_headers(
    body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Signed with the tests' signing secret unless told otherwise."""
    return slack_requests.signed_headers(body, secret, timestamp)


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


def signed_bytes_headers(
    body: bytes,
    content_type: str = slack_requests.FORM,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> dict[str, str]:
    """As Slack signs any body: the HMAC is over the raw bytes, whatever they are."""
    return slack_requests.signed_headers(body, secret, timestamp, content_type)
