"""The real ``redis-server`` (:mod:`bot.sandbox.redis_server`) as pytest fixtures. Registered as a
pytest plugin (``tests/conftest.py``), it offers ``redis_server`` (one server for the session),
``redis_url`` (that server, emptied before the test) and ``own_redis_server`` (a server of the
test's own, to stop and restart on the same port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server
