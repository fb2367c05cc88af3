"""The workflow's :class:`~bot.stopflow.outlet.Outlet`, made of Slack Web API calls.

The channel message is posted with ``chat.postMessage`` and revised with ``chat.update``. When
the bot may not post there (``not_in_channel``, ``channel_not_found``, any other refusal, or a
network that keeps failing after the client's retries), the final word goes through the
command's ``response_url`` as an ``in_channel`` message instead, and failing that to the
requester, so an outcome is never silently lost.

Retries (rate limits with ``Retry-After``, 5xx, dropped connections) are slack_sdk's own retry
handlers, set on the client in ``bot/app.py`` and shared by ``response_url`` posts; the caller
bounds each delivery in time. Nothing here raises: a failed call is logged and reported as
False or "".

Every call goes through the Web API client's one aiohttp session: under a burst, a new session
(and TCP connection) per call is what slows acks down.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.stopflow.markup import Reply

log = logging.getLogger(__name__)
# What a Slack call can fail with once the client's retries are spent.
SLACK_FAILURES = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError, OSError)


async def send_to_response_url(
    client: AsyncWebClient, url: str, reply: Reply, **options: Any
) -> bool:
    """Post ``reply`` to a Slack ``response_url``; False (and logged) if it did not arrive."""
    if not url:
        return False
    webhook = AsyncWebhookClient(url, session=client.session, retry_handlers=client.retry_handlers)
    try:
        response = await webhook.send(**options, **reply.payload())
    except SLACK_FAILURES as exc:
        log.error("response_url post failed: %s", type(exc).__name__)
        return False
    if response.status_code != 200:
        log.error("response_url answered %s: %s", response.status_code, response.body)
        return False
    return True


class SlackOutlet:
    def __init__(
        self, client: AsyncWebClient, channel_id: str, response_url: str, channel_ts: str = ""
    ) -> None:
        self._client = client
        self._channel_id = channel_id
        self._response_url = response_url  # the click's: it reaches the requester's message
        self._ts = channel_ts or None  # the channel message to revise (a take-over knows it)
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

    async def announce(self, reply: Reply, *, final: bool, fallback_url: str) -> str:
        if self._ts is not None:
            if await self._call(
                "chat_update", channel=self._channel_id, ts=self._ts, **reply.payload()
            ):
                return self._ts
        elif not self._channel_refused:
            posted = await self._call(
                "chat_postMessage", channel=self._channel_id, **reply.payload()
            )
            if posted:
                self._ts = posted
                return posted
            self._channel_refused = True
        if final and not await send_to_response_url(
            self._client, fallback_url, reply, response_type="in_channel"
        ):
            await self.to_requester(
                Reply(
                    text="⚠️ I could not post this in the channel; please share it:\n" + reply.text
                )
            )
        return ""

    async def copy_to(self, channel_id: str, reply: Reply) -> None:
        await self._call("chat_postMessage", channel=channel_id, **reply.payload())

    async def _call(self, method: str, **kwargs: Any) -> str:
        """The message's ``ts``, or "" if Slack said no or could not be reached (logged)."""
        try:
            response = await getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            log.warning(
                "%s in %s failed: %s", method, kwargs.get("channel"), exc.response.get("error")
            )
            return ""
        except SLACK_FAILURES as exc:
            log.warning("%s in %s failed: %s", method, kwargs.get("channel"), type(exc).__name__)
            return ""
        return str(response.get("ts") or "")
