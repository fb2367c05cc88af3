"""The workspace's address (``https://acme.slack.com/``), asked of Slack once and kept.

Links to channel messages in the stop history are built from it, in the form Slack's own
permalinks take, instead of one ``chat.getPermalink`` call per listed stop. Bolt calls
``auth.test`` too, but keeps only the IDs from it, not the address.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_outlet import SLACK_FAILURES

log = logging.getLogger(__name__)


class Workspace:
    def __init__(self) -> None:
        self._url: str | None = None

    async def url(self, client: AsyncWebClient) -> str:
        """The address, or "" while Slack cannot say (asked again next time; links are then
        left out, nothing else changes)."""
        if self._url is None:
            try:
                response = await client.auth_test()
            except SlackApiError as exc:
                log.warning("auth.test failed: %s", exc.response.get("error"))
                return ""
            except SLACK_FAILURES as exc:
                log.warning("auth.test failed: %s", type(exc).__name__)
                return ""
            url = response.get("url")
            self._url = url if isinstance(url, str) else ""
        return self._url
