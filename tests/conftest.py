"""Shared fixtures: the stand-ins run on loopback ports for the length of one test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.app import build
from bot.config import load_settings
from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth
from bot.sandbox.standins.metastudio import MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from bot.slack.server import Transport
from bot.stopflow.store import StateStore
from tests.builders import AK, FAST_RETRY, JOB, ROOM, SK, AuditLines, bot_settings
from tests.harness import Harness
from tests.reference_signer import huawei_signer

OUTSIDE_SETTING_PREFIXES = ("SLACK_", "STOPLIVE_", "METASTUDIO_", "HUAWEICLOUD_")
OUTSIDE_SETTING_NAMES = ("REDIS_URL", "PORT")


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly: a developer's exported SLACK_*/STOPLIVE_*/...
    variables must not leak into them (and every test passes ``_env_file=None``)."""
    for name in list(os.environ):
        if name.upper().startswith(OUTSIDE_SETTING_PREFIXES) or name.upper() in (
            OUTSIDE_SETTING_NAMES
        ):
            monkeypatch.delenv(name)


@pytest.fixture
def audit_lines(caplog: pytest.LogCaptureFixture) -> AuditLines:
    """The audit lines this test logged (see :class:`tests.builders.AuditLines`)."""
    return AuditLines(caplog)


pytest_plugins = ["tests.redis_server"]  # redis_server, redis_url, own_redis_server


@pytest.fixture
async def metastudio() -> AsyncIterator[MetaStudioStandIn]:
    standin = MetaStudioStandIn(signer=huawei_signer)
    standin.aksk[AK] = SK
    standin.add_job(ROOM, JOB)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def client(metastudio: MetaStudioStandIn) -> AsyncIterator[MetaStudioClient]:
    async with MetaStudioClient(
        base_url=metastudio.url,
        project_id=metastudio.project_id,
        auth=AkSkAuth(SecretStr(AK), SecretStr(SK), metastudio.project_id),
        retry=FAST_RETRY,
    ) as c:
        yield c


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = SlackStandIn()
    await standin.start()
    yield standin
    await standin.stop()


BotFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_bot(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> AsyncIterator[BotFactory]:
    """Start stoplive as ``python -m bot`` would (HTTP mode unless told otherwise), pointed at
    the stand-ins. Keyword arguments override settings; ``store`` replaces the state store
    (several bots given one store are replicas); ``transport`` holds Transport's keywords."""
    started: list[Harness] = []

    async def start(
        store: StateStore | None = None, transport: dict[str, Any] | None = None, **overrides: Any
    ) -> Harness:
        overrides.setdefault("stoplive_state_file", str(tmp_path / "stoplive-state.sqlite3"))
        settings = load_settings(**bot_settings(metastudio, slack, **overrides))
        stoplive = build(settings, store=store)
        # ``transport``: Transport's keywords for tests only (limits, reconnect backoff)
        transport = Transport(stoplive, health=stoplive.health, **(transport or {}))
        await transport.open()
        harness = Harness(stoplive, transport, slack, metastudio, httpx.AsyncClient(timeout=10))
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.http.aclose()
        await harness.transport.close()
