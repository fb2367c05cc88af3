"""``/stoplive``: the ack answers what needs no network; the confirmation follows after it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.slack_outlet import send_to_response_url
from bot.stopflow.workflow import CommandRequest, StopWorkflow

COMMAND = "/stoplive"


def register(app: AsyncApp, workflow: StopWorkflow, background: Background) -> None:
    async def follow_up(request: CommandRequest, client: AsyncWebClient) -> None:
        reply = await workflow.answer_later(request)
        if reply is not None:
            await send_to_response_url(
                client, request.response_url, reply, response_type="ephemeral"
            )

    @app.command(COMMAND)
    async def stoplive(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        request = CommandRequest(
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            text=command.get("text") or "",
            response_url=command["response_url"],
        )
        reply = workflow.answer_now(request)
        if reply is not None:  # help, usage or refusal: the ack is the whole answer
            await ack(response_type="ephemeral", **reply.payload())
            return
        background.spawn(follow_up(request, client))  # MetaStudio lookups happen after the ack
        await ack()
