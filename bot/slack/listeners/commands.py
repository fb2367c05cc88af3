"""``/stoplive``: the ack answers what needs no network; the confirmation follows after it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.slack.listeners.workspace import Workspace
from bot.slack.outlet import send_to_response_url
from bot.slack.payloads import CommandPayload, checked_in
from bot.stopflow.workflow import Admitted, CommandRequest, StopWorkflow

COMMAND = "/stoplive"


def register(
    app: AsyncApp, workflow: StopWorkflow, background: Background, workspace: Workspace
) -> None:
    async def follow_up(
        request: CommandRequest, admitted: Admitted, client: AsyncWebClient
    ) -> None:
        # the workspace's address, for links to channel messages: only ``recent`` asks for it
        reply = await workflow.answer_later(request, admitted, lambda: workspace.url(client))
        await send_to_response_url(client, request.response_url, reply, response_type="ephemeral")

    @app.command(COMMAND)
    async def stoplive(ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient) -> None:
        checked = checked_in(context, CommandPayload)
        if checked is None:
            await ack()
            return
        request = CommandRequest(
            user_id=checked.user_id,
            channel_id=checked.channel_id,
            text=checked.text,
            response_url=checked.response_url,
        )
        answer = workflow.answer_now(request)  # parsed and checked once, here
        if not isinstance(answer, Admitted):  # help, usage or refusal: the ack is the whole answer
            await ack(response_type="ephemeral", **answer.payload())
            return
        background.spawn(follow_up(request, answer, client))  # MetaStudio lookups after the ack
        await ack()
