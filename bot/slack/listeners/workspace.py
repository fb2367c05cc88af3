"""The workspace's address (``https://acme.slack.com/``), asked of Slack once and kept.

Links to channel messages in the stop history are built from it, in the form Slack's own
permalinks take, instead of one ``chat.getPermalink`` call per listed stop. Bolt calls
``auth.test`` too, but keeps only the IDs from it, not the address. Callers asking at the same
moment share one ``auth.test``; a failed one is not kept, so the next caller asks again.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.outlet import SLACK_FAILURES

log = logging.getLogger(__name__)


class Workspace:
    def __init__(self) -> None:
        self._url: str | None = None
        self._asking: asyncio.Task[str] | None = None

    async def url(self, client: AsyncWebClient) -> str:
        """The address, or "" while Slack cannot say (asked again next time; links are then
        left out, nothing else changes)."""
        if self._url is not None:
            return self._url
        if self._asking is None or self._asking.done():
            self._asking = asyncio.create_task(self._ask(client))
        # shielded: one caller giving up (its request cancelled) must not cancel the others'
        return await asyncio.shield(self._asking)

    async def _ask(self, client: AsyncWebClient) -> str:
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
