"""``/stoplive``: the ack answers what needs no network; the rest runs lazily after it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_outlet import send_to_response_url
from bot.stopflow.workflow import CommandRequest, StopWorkflow

COMMAND = "/stoplive"


def register(app: AsyncApp, workflow: StopWorkflow, slack: AsyncWebClient) -> None:
    async def acknowledge(ack: AsyncAck, command: dict[str, Any]) -> None:
        reply = workflow.answer_now(_request(command))
        if reply is None:
            await ack()  # the confirmation follows through response_url
        else:
            await ack(response_type="ephemeral", **reply.payload())

    async def follow_up(command: dict[str, Any]) -> None:
        request = _request(command)
        reply = await workflow.answer_later(request)
        if reply is not None:
            await send_to_response_url(
                slack, request.response_url, reply, response_type="ephemeral"
            )

    app.command(COMMAND)(ack=acknowledge, lazy=[follow_up])


def _request(command: dict[str, Any]) -> CommandRequest:
    return CommandRequest(
        user_id=command["user_id"],
        channel_id=command["channel_id"],
        text=command.get("text") or "",
        response_url=command["response_url"],
    )
