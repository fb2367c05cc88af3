"""The confirmation's buttons: an empty ack at once; the workflow step runs lazily after it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_outlet import SlackOutlet
from bot.stopflow.messages import CANCEL_ACTION, CONFIRM_ACTION, PICK_ACTION
from bot.stopflow.workflow import Click, Outlet, StopWorkflow

Step = Callable[[Click, Outlet], Awaitable[None]]


def register(app: AsyncApp, workflow: StopWorkflow, slack: AsyncWebClient) -> None:
    for action_id, step in (
        (CONFIRM_ACTION, workflow.confirm),
        (CANCEL_ACTION, workflow.cancel),
        (PICK_ACTION, workflow.pick),
    ):
        app.action(re.compile(re.escape(action_id) + "$"))(
            ack=_acknowledge, lazy=[_run(step, slack)]
        )


async def _acknowledge(ack: AsyncAck) -> None:
    await ack()


def _run(step: Step, slack: AsyncWebClient) -> Callable[..., Awaitable[None]]:
    async def run_step(body: dict[str, Any], action: dict[str, Any]) -> None:
        channel_id = (body.get("channel") or {}).get("id") or body["container"].get(
            "channel_id", ""
        )
        outlet = SlackOutlet(slack, channel_id, body["response_url"])
        click = Click(
            user_id=body["user"]["id"], channel_id=channel_id, value=action.get("value") or ""
        )
        await step(click, outlet)

    run_step.__name__ = f"run_{step.__name__}"  # Bolt tells lazy functions apart by name
    return run_step
