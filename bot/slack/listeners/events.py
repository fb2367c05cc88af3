"""The Events API: ``app_home_opened`` publishes the viewer's Home tab (their access and the
last day of stops). The ack goes back at once; the store read and ``views.publish`` follow."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.slack.listeners.workspace import Workspace
from bot.slack.outlet import SLACK_FAILURES
from bot.slack.payloads import AppHomeOpened, checked_in
from bot.stopflow.history import History

log = logging.getLogger(__name__)


async def publish_home(
    client: AsyncWebClient, history: History, user_id: str, workspace: Workspace
) -> None:
    """Build and publish one viewer's Home tab; a failure is one log line."""
    view = await history.home(user_id, await workspace.url(client))
    try:
        await client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        log.warning("views.publish for %s failed: %s", user_id, exc.response.get("error"))
    except SLACK_FAILURES as exc:
        log.warning("views.publish for %s failed: %s", user_id, type(exc).__name__)


def register(app: AsyncApp, history: History, background: Background, workspace: Workspace) -> None:
    @app.event("app_home_opened")
    async def home_opened(context: AsyncBoltContext, client: AsyncWebClient) -> None:
        opened = checked_in(context, AppHomeOpened)
        if opened is None:
            return
        if opened.event.tab != "home":  # the Messages tab: nothing to publish
            return
        background.spawn(publish_home(client, history, opened.user_id, workspace))
