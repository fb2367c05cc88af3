"""The confirmation's buttons: an empty ack at once; the workflow step runs after it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.listeners.payloads import BlockActions
from bot.slack_outlet import SlackOutlet
from bot.stopflow.messages import CANCEL_ACTION, CONFIRM_ACTION, PICK_ACTION
from bot.stopflow.workflow import Click, Outlet, StopWorkflow

Step = Callable[[Click, Outlet], Coroutine[Any, Any, None]]
log = logging.getLogger(__name__)


def register(app: AsyncApp, workflow: StopWorkflow, background: Background) -> None:
    def handler(step: Step) -> Callable[..., Awaitable[None]]:
        async def handle(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            try:
                click = BlockActions.model_validate(body)
            except ValidationError:  # the transports check first; this is the last line
                log.warning("ignored a malformed click", extra={"reason": "bad_block_actions"})
                await ack()
                return
            channel = click.channel_id
            background.spawn(
                step(
                    Click(user_id=click.user.id, channel_id=channel, value=click.actions[0].value),
                    SlackOutlet(client, channel, click.response_url),
                )
            )
            await ack()

        return handle

    for action_id, step in (
        (CONFIRM_ACTION, workflow.confirm),
        (CANCEL_ACTION, workflow.cancel),
        (PICK_ACTION, workflow.pick),
    ):
        # a plain string matches the whole action_id; a compiled pattern would be searched
        app.action(action_id)(handler(step))
