"""Shared fixtures: the stand-ins run on loopback ports for the length of one test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth
from bot.metastudio.retry import RetryPolicy
from tests.standins.metastudio import MetaStudioStandIn

AK, SK = "HPUA0TESTACCESSKEY00", "test-secret-key-0123456789"
ROOM = "24bad716-87b1-45e5-8912-6102f7693265"
JOB = "26f06524-4f75-4b3a-a853-b649a21aaf66"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=5.0)


@pytest.fixture
async def metastudio() -> AsyncIterator[MetaStudioStandIn]:
    standin = MetaStudioStandIn()
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
