"""The workflow's :class:`~bot.stopflow.workflow.Outlet`, made of Slack Web API calls.

The channel message is posted with ``chat.postMessage`` and revised with ``chat.update``. When
the bot may not post there (``not_in_channel``, ``channel_not_found``, or any other refusal),
the final word goes through the command's ``response_url`` as an ``in_channel`` message
instead, so an outcome is never silently lost.
"""

from __future__ import annotations

import logging

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.stopflow.markup import Reply

log = logging.getLogger(__name__)


class SlackOutlet:
    def __init__(self, client: AsyncWebClient, respond: AsyncRespond, channel_id: str) -> None:
        self._client = client
        self._respond = respond
        self._channel_id = channel_id
        self._ts: str | None = None
        self._channel_refused = False

    async def to_requester(self, reply: Reply) -> None:
        await self._respond(replace_original=True, response_type="ephemeral", **reply.payload())

    async def to_clicker(self, reply: Reply) -> None:
        await self._respond(replace_original=False, response_type="ephemeral", **reply.payload())

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
                self._ts = str(posted)
                return
            self._channel_refused = True
        if final:
            await self._through_response_url(reply, fallback_url)

    async def copy_to(self, channel_id: str, reply: Reply) -> None:
        await self._call("chat_postMessage", channel=channel_id, **reply.payload())

    async def _call(self, method: str, **kwargs: object) -> str | None:
        """The message's ``ts``, or None if Slack said no (logged, never raised)."""
        try:
            response = await getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            log.warning(
                "%s in %s failed: %s", method, kwargs.get("channel"), exc.response.get("error")
            )
            return None
        return str(response.get("ts") or "")

    async def _through_response_url(self, reply: Reply, url: str) -> None:
        webhook = AsyncWebhookClient(url)
        response = await webhook.send(response_type="in_channel", **reply.payload())
        if response.status_code != 200:
            log.error(
                "outcome lost: response_url answered %s: %s", response.status_code, response.body
            )
            await self.to_requester(
                Reply(
                    text=":warning: I could not post the result in the channel; please share it:\n"
                    + reply.text
                )
            )
