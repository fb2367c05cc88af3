"""``/stoplive``: answer at once, look things up after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.stopflow.markup import Reply
from bot.stopflow.workflow import CommandRequest, StopWorkflow

COMMAND = "/stoplive"


def register(app: AsyncApp, workflow: StopWorkflow) -> None:
    @app.command(COMMAND)
    async def stoplive(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        request = CommandRequest(
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            text=command.get("text") or "",
            response_url=command["response_url"],
        )
        screened = workflow.screen(request)
        if isinstance(screened, Reply):  # help, refusal or bad input: the ack is the answer
            await ack(response_type="ephemeral", **screened.payload())
            return
        await ack()  # Slack's 3 s are for the ack; MetaStudio lookups happen after it
        reply = await workflow.prepare(screened)
        await respond(response_type="ephemeral", **reply.payload())
