"""The workflow's :class:`~bot.stopflow.workflow.Outlet`, made of Slack Web API calls.

The channel message is posted with ``chat.postMessage`` and revised with ``chat.update``. When
the bot may not post there (``not_in_channel``, ``channel_not_found``, or any other refusal),
the final word goes through the command's ``response_url`` as an ``in_channel`` message
instead, so an outcome is never silently lost.

Every call, ``response_url`` posts included, goes through the Web API client's one aiohttp
session: under a burst, a new session (and TCP connection) per call is what slows acks down.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.stopflow.markup import Reply

log = logging.getLogger(__name__)


async def send_to_response_url(
    client: AsyncWebClient, url: str, reply: Reply, **options: Any
) -> bool:
    """Post ``reply`` to a Slack ``response_url``; False (and logged) if Slack said no."""
    webhook = AsyncWebhookClient(url, session=client.session)
    response = await webhook.send(**options, **reply.payload())
    if response.status_code != 200:
        log.error("response_url answered %s: %s", response.status_code, response.body)
        return False
    return True


class SlackOutlet:
    def __init__(self, client: AsyncWebClient, channel_id: str, response_url: str) -> None:
        self._client = client
        self._channel_id = channel_id
        self._response_url = response_url  # the click's: it reaches the requester's message
        self._ts: str | None = None
        self._channel_refused = False

    async def to_requester(self, reply: Reply) -> None:
        await send_to_response_url(
            self._client,
            self._response_url,
            reply,
            replace_original=True,
            response_type="ephemeral",
        )

    async def to_clicker(self, reply: Reply) -> None:
        await send_to_response_url(
            self._client,
            self._response_url,
            reply,
            replace_original=False,
            response_type="ephemeral",
        )

    async def announce(self, reply: Reply, *, final: bool, fallback_url: str) -> None:
        if self._ts is not None:
            if await self._call(
                "chat_update", channel=self._channel_id, ts=self._ts, **reply.payload()
            ):
                return
        elif not self._channel_refused:
            posted = await self._call(
                "chat_postMessage", channel=self._channel_id, **reply.payload()
            )
            if posted is not None:
                self._ts = posted
                return
            self._channel_refused = True
        if final and not await send_to_response_url(
            self._client, fallback_url, reply, response_type="in_channel"
        ):
            await self.to_requester(
                Reply(
                    text=":warning: I could not post this in the channel; please share it:\n"
                    + reply.text
                )
            )

    async def copy_to(self, channel_id: str, reply: Reply) -> None:
        await self._call("chat_postMessage", channel=channel_id, **reply.payload())

    async def _call(self, method: str, **kwargs: Any) -> str | None:
        """The message's ``ts``, or None if Slack said no (logged, never raised)."""
        try:
            response = await getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            log.warning(
                "%s in %s failed: %s", method, kwargs.get("channel"), exc.response.get("error")
            )
            return None
        return str(response.get("ts") or "")
