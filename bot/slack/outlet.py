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

from bot.stopflow.words.markup import Reply

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
    for payload in _payloads(reply):
        try:
            response = await webhook.send(**options, **payload)
        except SLACK_FAILURES as exc:
            log.error("response_url post failed: %s", type(exc).__name__)
            return False
        if response.status_code == 200:
            return True
        log.error("response_url answered %s: %s", response.status_code, response.body[:200])
    return False


# Slack's words for "this message, as built, is refused" (not "you may not post here"): the
# same words as plain text still get through.
REFUSED_MESSAGE = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "invalid_arguments", "no_text"}
)


def _payloads(reply: Reply) -> list[dict[str, Any]]:
    """What to send, in order: the message, then (if Slack refuses it) its short plain-text
    version, so a message Slack will not take still says something."""
    payload = reply.payload()
    return [payload, reply.plain().payload()] if "blocks" in payload else [payload]


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
            if await self._call("chat_update", reply, channel=self._channel_id, ts=self._ts):
                return self._ts
        elif not self._channel_refused:
            posted = await self._call("chat_postMessage", reply, channel=self._channel_id)
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
        await self._call("chat_postMessage", reply, channel=channel_id)

    async def reply_in_thread(self, reply: Reply) -> None:
        if self._ts is not None:
            await self._call(
                "chat_postMessage",
                reply,
                channel=self._channel_id,
                thread_ts=self._ts,
                reply_broadcast=True,
            )

    async def permalink(self) -> str | None:
        if self._ts is None:
            return None
        try:
            response = await self._client.chat_getPermalink(
                channel=self._channel_id, message_ts=self._ts
            )
        except SlackApiError as exc:
            log.warning(
                "chat.getPermalink in %s failed: %s", self._channel_id, exc.response.get("error")
            )
            return None
        except SLACK_FAILURES as exc:
            log.warning("chat.getPermalink in %s failed: %s", self._channel_id, type(exc).__name__)
            return None
        link = response.get("permalink")
        return link if isinstance(link, str) else None

    async def _call(self, method: str, reply: Reply, **kwargs: Any) -> str:
        """Send ``reply`` with a Web API ``method``; the message's ``ts``, or "" if Slack said
        no or could not be reached (logged). A message Slack refuses as built is sent again as
        plain text."""
        for payload in _payloads(reply):
            try:
                response = await getattr(self._client, method)(**kwargs, **payload)
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.warning("%s in %s failed: %s", method, kwargs.get("channel"), error)
                if error in REFUSED_MESSAGE:
                    continue
                return ""
            except SLACK_FAILURES as exc:
                log.warning(
                    "%s in %s failed: %s", method, kwargs.get("channel"), type(exc).__name__
                )
                return ""
            return str(response.get("ts") or "")
        return ""
