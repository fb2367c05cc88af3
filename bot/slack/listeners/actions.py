"""The buttons: an empty ack at once; the workflow step runs after it.

The confirmation's buttons (Stop, Cancel, Choose) go to the workflow; the outcome message's
("Check again", "Stop again") to :class:`~bot.stopflow.checking.JobChecks`. "Open in
MetaStudio" is a link: Slack opens it and still sends the click, which is only acked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.slack.outlet import SlackOutlet
from bot.slack.payloads import BlockActions, checked_in
from bot.stopflow.words.actions import (
    APPROVE_ALL_ACTION,
    CANCEL_ACTION,
    CHECK_AGAIN_ACTION,
    CONFIRM_ACTION,
    OPEN_CONSOLE_ACTION,
    PICK_ACTION,
    STOP_AGAIN_ACTION,
    STOP_ALL_ACTION,
    WITHDRAW_ALL_ACTION,
)
from bot.stopflow.workflow import Click, Outlet, StopWorkflow

Step = Callable[[Click, Outlet, str], Coroutine[Any, Any, None]]
"""A click, the outlet that answers it, and the click's ``response_url``."""


def register(app: AsyncApp, workflow: StopWorkflow, background: Background) -> None:
    def handler(step: Step) -> Callable[..., Awaitable[None]]:
        async def handle(ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient) -> None:
            click = checked_in(context, BlockActions)
            if click is None:
                await ack()
                return
            channel = click.channel_id
            background.spawn(
                step(
                    Click(user_id=click.user.id, channel_id=channel, value=click.actions[0].value),
                    SlackOutlet(client, channel, click.response_url),
                    click.response_url,
                )
            )
            await ack()

        return handle

    def without_url(
        step: Callable[[Click, Outlet], Coroutine[Any, Any, None]],
    ) -> Step:
        async def run(click: Click, outlet: Outlet, _: str) -> None:
            await step(click, outlet)

        return run

    for action_id, step in (
        (CONFIRM_ACTION, without_url(workflow.confirm)),
        (CANCEL_ACTION, without_url(workflow.cancel)),
        (PICK_ACTION, without_url(workflow.pick)),
        (CHECK_AGAIN_ACTION, without_url(workflow.checks.check_again)),
        (STOP_AGAIN_ACTION, workflow.checks.stop_again),
        (STOP_ALL_ACTION, without_url(workflow.stop_all.confirm)),
        (APPROVE_ALL_ACTION, without_url(workflow.stop_all.approve)),
        (WITHDRAW_ALL_ACTION, without_url(workflow.stop_all.withdraw)),
    ):
        # a plain string matches the whole action_id; a compiled pattern would be searched
        app.action(action_id)(handler(step))

    @app.action(OPEN_CONSOLE_ACTION)
    async def opened_console(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack has opened the link; there is nothing to do
