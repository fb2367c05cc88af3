"""The confirmation's buttons: an empty ack at once; the workflow step runs after it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.slack_outlet import SlackOutlet
from bot.stopflow.messages import CANCEL_ACTION, CONFIRM_ACTION, PICK_ACTION
from bot.stopflow.workflow import Click, Outlet, StopWorkflow

Step = Callable[[Click, Outlet], Coroutine[Any, Any, None]]


def register(app: AsyncApp, workflow: StopWorkflow, background: Background) -> None:
    def handler(step: Step) -> Callable[..., Awaitable[None]]:
        async def handle(
            ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
        ) -> None:
            channel = (body.get("channel") or {}).get("id") or body["container"].get(
                "channel_id", ""
            )
            click = Click(
                user_id=body["user"]["id"], channel_id=channel, value=action.get("value") or ""
            )
            background.spawn(step(click, SlackOutlet(client, channel, body["response_url"])))
            await ack()

        return handle

    for action_id, step in (
        (CONFIRM_ACTION, workflow.confirm),
        (CANCEL_ACTION, workflow.cancel),
        (PICK_ACTION, workflow.pick),
    ):
        app.action(re.compile(re.escape(action_id) + "$"))(handler(step))
