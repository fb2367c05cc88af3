"""The confirmation's buttons: ack first, then let the workflow do the slow part."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_outlet import SlackOutlet
from bot.stopflow.messages import CANCEL_ACTION, CONFIRM_ACTION, PICK_ACTION
from bot.stopflow.workflow import Click, Outlet, StopWorkflow

Step = Callable[[Click, Outlet], Awaitable[None]]


def register(app: AsyncApp, workflow: StopWorkflow) -> None:
    for action_id, step in (
        (CONFIRM_ACTION, workflow.confirm),
        (CANCEL_ACTION, workflow.cancel),
        (PICK_ACTION, workflow.pick),
    ):
        app.action(re.compile(re.escape(action_id) + "$"))(_handler(step))


def _handler(step: Step) -> Callable[..., Awaitable[None]]:
    async def handle(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        channel_id = (body.get("channel") or {}).get("id") or body["container"].get(
            "channel_id", ""
        )
        value = action.get("value") or ""
        outlet = SlackOutlet(client, respond, channel_id)
        await step(Click(user_id=body["user"]["id"], channel_id=channel_id, value=value), outlet)

    return handle
