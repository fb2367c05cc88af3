"""The Events API: ``app_home_opened`` publishes the viewer's Home tab (their access and the
last day of stops). The ack goes back at once; the store read and ``views.publish`` follow."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.listeners.payloads import AppHomeOpened
from bot.slack_outlet import SLACK_FAILURES
from bot.stopflow.history import History

log = logging.getLogger(__name__)


def workspace_url(context: AsyncBoltContext) -> str:
    """The workspace's address (``https://acme.slack.com/``) as ``auth.test`` gave it to Bolt;
    "" when unknown (links to messages are then left out)."""
    result = context.authorize_result
    url = result.url if result is not None else None
    return url if isinstance(url, str) else ""


async def publish_home(
    client: AsyncWebClient, history: History, user_id: str, workspace: str
) -> None:
    """Build and publish one viewer's Home tab; a failure is one log line."""
    view = await history.home(user_id, workspace)
    try:
        await client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        log.warning("views.publish for %s failed: %s", user_id, exc.response.get("error"))
    except SLACK_FAILURES as exc:
        log.warning("views.publish for %s failed: %s", user_id, type(exc).__name__)


def register(app: AsyncApp, history: History, background: Background) -> None:
    @app.event("app_home_opened")
    async def home_opened(
        body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        try:
            opened = AppHomeOpened.model_validate(body)
        except ValidationError:  # the transports check first; this is the last line
            log.warning("ignored a malformed event", extra={"reason": "bad_event"})
            return
        if opened.event.tab != "home":  # the Messages tab: nothing to publish
            return
        background.spawn(publish_home(client, history, opened.user_id, workspace_url(context)))
