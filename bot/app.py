"""Wiring: settings in, a ready stoplive out. Nothing here decides anything."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.config import AuthMode, Settings
from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from bot.slack import listeners
from bot.slack.outlet import SlackOutlet
from bot.slack.tokens import BotTokenWatch
from bot.stopflow.buttons import OutcomeButtons
from bot.stopflow.outlet import Outlet
from bot.stopflow.store import StateStore, open_store
from bot.stopflow.tickets import TicketKey
from bot.stopflow.watch_state import NotifyRules
from bot.stopflow.workflow import Policy, StopWorkflow


@dataclass
class Stoplive:
    settings: Settings
    metastudio: MetaStudioClient
    workflow: StopWorkflow
    bolt: AsyncApp
    background: Background  # what runs after the acks; drained on shutdown
    store: StateStore  # claims and the stop journal, shared by replicas

    async def health(self) -> str | None:
        """None when healthy, else the reason (``/healthz`` answers 503 with it)."""
        return await self.workflow.health()

    async def aclose(self) -> None:
        await self.metastudio.aclose()
        await self.store.aclose()
        if self.bolt.client.session is not None:
            await self.bolt.client.session.close()


def build(settings: Settings, store: StateStore | None = None) -> Stoplive:
    """Everything stoplive is made of. ``store`` replaces the one the settings name (tests)."""
    metastudio = build_metastudio(settings)
    store = store if store is not None else build_store(settings)
    client = slack_client(settings, session=aiohttp.ClientSession())

    def outlet_for(channel_id: str, response_url: str, channel_ts: str) -> Outlet:
        return SlackOutlet(client, channel_id, response_url, channel_ts=channel_ts)

    workflow = StopWorkflow(
        build_policy(settings), metastudio, store, outlet_for, notify=notify_rules(settings)
    )
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_client_carries_the_token)
    bolt = AsyncApp(
        # One aiohttp session for every Slack call (Web API and response_url alike): a session
        # per call costs a TCP connection each.
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # Listeners run inline and only ack; whatever is slow they hand to Background, so the
        # ack goes straight back (no waiting on Bolt's 10 ms ack poll; bench/burst.py).
        process_before_response=True,
        # bot.slack.server checks signatures (and shapes) itself: Bolt's check logs refused bodies
        request_verification_enabled=False,
    )
    background = Background()
    listeners.register(bolt, workflow, background)
    return Stoplive(settings, metastudio, workflow, bolt, background, store)


def build_policy(settings: Settings) -> Policy:
    return Policy(
        allowlist=settings.allowlist,
        contact=settings.stoplive_contact,
        confirm_ttl=settings.stoplive_confirm_ttl,
        # derived from the signing secret: every replica seals and opens buttons alike
        ticket_key=TicketKey.from_signing_secret(settings.slack_signing_secret.get_secret_value()),
        allowed_channels=settings.allowed_channels,
        audit_channel=settings.stoplive_audit_channel,
        verify_for=settings.stoplive_verify_seconds,
        buttons=OutcomeButtons(
            settings.stoplive_console_url,
            settings.metastudio_region,
            settings.metastudio_project_id,
        ),
        watch_for=settings.stoplive_watch_seconds,
        two_person_stop_all=settings.stoplive_stop_all_approval == "two-person",
    )


def notify_rules(settings: Settings) -> NotifyRules | None:
    """What the stream watch tells, and where; None when STOPLIVE_NOTIFY_CHANNEL is unset."""
    if settings.stoplive_notify_channel is None:
        return None
    return NotifyRules(
        channel_id=settings.stoplive_notify_channel,
        every=settings.stoplive_notify_seconds,
        ends=settings.stoplive_notify_ends,
        long_live_hours=settings.stoplive_long_live_hours,
        starts=settings.stoplive_notify_starts,
    )


def build_store(settings: Settings) -> StateStore:
    """The state store the settings name: Redis (STOPLIVE_REDIS_URL) when replicas share the
    work, else a SQLite file (STOPLIVE_STATE_FILE), created on first use."""
    url = settings.stoplive_redis_url
    return open_store(url.get_secret_value() if url else None, settings.stoplive_state_file)


def slack_retry_handlers() -> list[AsyncRetryHandler]:
    """slack_sdk's own retries: dropped connections, 429 with Retry-After, 500/503. Each
    delivery is also bounded in time by the stop supervisor."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.2)
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
        AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
    ]


def _client_carries_the_token(record: logging.LogRecord) -> bool:
    """Drops Bolt's "`token` will be unused" warning. Bolt reads SLACK_BOT_TOKEN from the
    environment whenever no ``token`` is passed, then warns because a ``client`` was passed
    too; that client carries the very same token (from Settings), so the warning is noise."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def slack_client(
    settings: Settings, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """Every Web API call (Socket Mode's ``apps.connections.open`` too) goes to SLACK_API_URL."""
    token = token or settings.slack_bot_token.get_secret_value()
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url.rstrip("/") + "/",
        session=session,
        # first: it only reads each answer, for Slack saying the token is dead
        retry_handlers=[BotTokenWatch(token), *slack_retry_handlers()],
    )


def build_metastudio(settings: Settings) -> MetaStudioClient:
    return MetaStudioClient(
        base_url=settings.metastudio_base_url,
        project_id=settings.metastudio_project_id,
        auth=metastudio_auth(settings),
        timeout=httpx.Timeout(
            settings.metastudio_timeout, connect=min(3.0, settings.metastudio_timeout)
        ),
    )


def metastudio_auth(settings: Settings) -> httpx.Auth:
    mode = settings.auth_mode
    if mode is AuthMode.AKSK:
        assert settings.huaweicloud_sdk_ak and settings.huaweicloud_sdk_sk
        return AkSkAuth(
            settings.huaweicloud_sdk_ak,
            settings.huaweicloud_sdk_sk,
            settings.metastudio_project_id,
            security_token=settings.huaweicloud_sdk_security_token,
        )
    if mode is AuthMode.TOKEN:
        assert settings.metastudio_auth_token
        return TokenAuth(settings.metastudio_auth_token)
    assert settings.huaweicloud_iam_username and settings.huaweicloud_iam_password
    return IamPasswordAuth(
        iam_endpoint=settings.iam_base_url,
        username=settings.huaweicloud_iam_username,
        password=settings.huaweicloud_iam_password,
        domain=settings.huaweicloud_iam_domain or "",
        project_id=settings.metastudio_project_id,
    )
