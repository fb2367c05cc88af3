"""Slack saying, in any Web API answer, that the bot token is dead.

A bot token revoked while stoplive runs (the app uninstalled, the token rotated away, the
account deactivated) would leave a bot that acks every command and can no longer post a single
outcome to a channel. The first answer saying so ends the process (exit 1, one line naming
SLACK_BOT_TOKEN), as a refused app token does.

Why a retry handler: it is the one hook every slack_sdk client of the app shares. Bolt builds
a new client for each request, copying the app client's list of retry handlers (the handlers
themselves are shared), and slack_sdk shows each handler every answer before deciding to retry.
This one never asks for a retry; it only reads the answer.
"""

from __future__ import annotations

import asyncio

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.config import ConfigError

# Slack's errors for a token that will not work again (not: a missing scope, a rate limit)
DEAD_TOKEN = frozenset({"invalid_auth", "token_revoked", "account_inactive", "token_expired"})


class BotTokenWatch(AsyncRetryHandler):
    """:attr:`refused` is set (and :attr:`refusal` says why) the first time Slack answers a
    call made with ``token`` that the token is dead. Calls made with another token (the app
    token's ``apps.connections.open``) are not its business."""

    def __init__(self, token: str) -> None:
        super().__init__(max_retry_count=0)
        self._authorization = [f"Bearer {token}"]
        self.refused = asyncio.Event()
        self.refusal: ConfigError | None = None

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        body = response.body if response is not None else None
        error_code = body.get("error") if isinstance(body, dict) else None
        ours = request.headers.get("Authorization") == self._authorization
        if error_code in DEAD_TOKEN and ours and self.refusal is None:
            self.refusal = ConfigError(
                f"SLACK_BOT_TOKEN: Slack refused it ({error_code}); set the Bot User OAuth Token "
                "(xoxb-...) from your app's Install App page"
            )
            self.refused.set()
        return False
