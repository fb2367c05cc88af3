"""Wiring: settings in, a ready stoplive out. Nothing here decides anything."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from bot import listeners
from bot.background import Background
from bot.config import AuthMode, Settings
from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from bot.stopflow.workflow import Policy, StopWorkflow


@dataclass
class Stoplive:
    settings: Settings
    metastudio: MetaStudioClient
    workflow: StopWorkflow
    bolt: AsyncApp
    background: Background  # what runs after the acks; drained on shutdown

    async def aclose(self) -> None:
        await self.metastudio.aclose()
        if self.bolt.client.session is not None:
            await self.bolt.client.session.close()


def build(settings: Settings) -> Stoplive:
    metastudio = build_metastudio(settings)
    workflow = StopWorkflow(
        Policy(
            allowlist=settings.allowlist,
            contact=settings.stoplive_contact,
            confirm_ttl=settings.stoplive_confirm_ttl,
            allowed_channels=settings.allowed_channels,
            audit_channel=settings.stoplive_audit_channel,
            verify_for=settings.stoplive_verify_seconds,
        ),
        metastudio,
    )
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_client_carries_the_token)
    bolt = AsyncApp(
        # One aiohttp session for every Slack call (Web API and response_url alike): a session
        # per call costs a TCP connection each.
        client=slack_client(settings, session=aiohttp.ClientSession()),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # Listeners run inline and only ack; whatever is slow they hand to Background, so the
        # ack goes straight back (no waiting on Bolt's 10 ms ack poll; bench/burst.py).
        process_before_response=True,
        # bot.server checks signatures (and shapes) itself: Bolt's check logs refused bodies
        request_verification_enabled=False,
    )
    background = Background()
    listeners.register(bolt, workflow, background)
    return Stoplive(settings, metastudio, workflow, bolt, background)


def _client_carries_the_token(record: logging.LogRecord) -> bool:
    """Drops Bolt's "`token` will be unused" warning. Bolt reads SLACK_BOT_TOKEN from the
    environment whenever no ``token`` is passed, then warns because a ``client`` was passed
    too; that client carries the very same token (from Settings), so the warning is noise."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def slack_client(
    settings: Settings, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """Every Web API call (Socket Mode's ``apps.connections.open`` too) goes to SLACK_API_URL."""
    return AsyncWebClient(
        token=token or settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url.rstrip("/") + "/",
        session=session,
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
