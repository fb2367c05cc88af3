"""Replicas that survive their own infrastructure, as real ``python -m bot`` processes: a Redis
that forgets (flushed mid-stop), one that answers but refuses writes, a public ``/healthz``
that says little, and replicas whose clocks disagree (shifted in their own process only).

The stand-ins run in the test's process, as in ``test_replicas_process.py``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox.redis_server import RedisServer
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from tests.bot_process import SHIFTED_CLOCK, BotProcess
from tests.builders import JOB, ROOM, bot_settings
from tests.test_doctor import ROOT, check
from tests.test_process import environment
from tests.test_replicas_process import (
    channel_story,
    eventually,
    final_update,
    journal,
    outcomes,
    stop_calls,
)

STOP = f"{ROOM} {JOB}"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


Spawn = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
def settings(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, own_redis_server: RedisServer
) -> dict[str, Any]:
    """Every replica's settings: the stand-ins, and the test's own Redis."""
    return bot_settings(metastudio, slack, stoplive_redis_url=own_redis_server.url)


@pytest.fixture
async def spawn(
    settings: dict[str, Any], http: httpx.AsyncClient, tmp_path: Path
) -> AsyncIterator[Spawn]:
    """Start a replica ``name`` (``clock_offset`` seconds off, ``overrides`` on ``settings``)
    and return once it is healthy; every one is closed after the test."""
    started: list[BotProcess] = []

    async def start(name: str, clock_offset: float = 0.0, **overrides: Any) -> BotProcess:
        bot = BotProcess(name, {**settings, **overrides}, tmp_path / name, clock_offset)
        started.append(bot)
        await bot.start(http)
        return bot

    yield start
    await asyncio.gather(*(bot.close() for bot in started))


def first_words(slack: SlackStandIn, hook: str) -> str:
    return str(slack.posts(hook)[0]["text"])


# --- the store forgets ------------------------------------------------------------------------


async def test_redis_emptied_mid_stop_the_stop_is_concluded_and_its_button_stays_used(
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
    spawn: Spawn,
) -> None:
    """The stop answer takes 2 s; Redis is emptied 0.8 s after the click. The owner hears
    "missing" (not "taken over"), writes its entry and claims back and concludes; the same
    Stop button clicked again is "already used", not a second stop."""
    first, second = await asyncio.gather(spawn("first"), spawn("second"))
    value = await first.confirmation(http, slack, STOP)
    metastudio.inject(JOB, Fault("slow", seconds=2.0))
    await first.click(http, slack, value)
    await asyncio.sleep(0.8)
    own_redis_server.flush()

    # the owner concludes: the channel does not stay at "⏳ Stopping"
    [posted] = await slack.wait_for(lambda: channel_story(slack, JOB)[:1], 20)
    assert await slack.wait_for(lambda: final_update(slack, posted.ts, "✅ Stopped:"), 20)
    again = await second.click(http, slack, value)  # its claims went with the data
    told = await slack.wait_for(lambda: slack.posts(again), 20)
    assert told[0]["text"].startswith("✋ Already used")
    assert stop_calls(metastudio, JOB) == 1 and metastudio.jobs[JOB].stops == 1
    assert [a["outcome"] for a in outcomes(first, JOB)] == ["stopped"]
    assert outcomes(second, JOB) == []

    async def closed() -> bool:
        entries = await journal(own_redis_server.url)
        return [(e.outcome, e.owner != "") for e in entries] == [("stopped", True)]

    await eventually(closed, 10)  # the history shows the stop
    assert "wrote it back" in first.stderr()


@pytest.mark.parametrize("refusing", ["out_of_memory", "read_only"])
async def test_a_redis_refusing_writes_fails_health_and_every_stop_and_says_so(
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
    spawn: Spawn,
    settings: dict[str, Any],
    tmp_path: Path,
    refusing: str,
) -> None:
    bot = await spawn("bot")
    value = await bot.confirmation(http, slack, STOP)
    getattr(own_redis_server, refusing)()  # PING still answers PONG
    health = await http.get(bot.url + "/healthz")
    assert (health.status_code, health.json()) == (
        503,
        {"ok": False, "reason": "store_refuses_writes"},
    )
    hook = await bot.click(http, slack, value)
    await slack.wait_for(lambda: slack.posts(hook), 20)
    assert first_words(slack, hook).startswith("⚠️ Not stopped")
    assert "my state store is refusing writes" in first_words(slack, hook)
    assert stop_calls(metastudio, JOB) == 0
    [refusal] = await eventually(lambda: [a for a in bot.audit() if a["event"] == "confirm"], 10)
    assert refusal["outcome"] == "refused_store_unavailable"

    code, out, err, _ = await check(environment(settings), tmp_path)
    assert code == 1 and "Traceback" not in out + err
    assert "FAIL state store: Redis (STOPLIVE_REDIS_URL) answers but is refusing writes" in out


async def test_check_warns_of_a_redis_that_keeps_nothing_or_evicts(
    own_redis_server: RedisServer, settings: dict[str, Any], tmp_path: Path
) -> None:
    own_redis_server.send("CONFIG SET maxmemory 100mb")
    own_redis_server.send("CONFIG SET maxmemory-policy allkeys-lru")
    code, out, _, _ = await check(environment(settings), tmp_path)
    assert code == 0, out  # warnings, not failures: stops still work
    assert "OK   state store: Redis (STOPLIVE_REDIS_URL) answers and takes writes" in out
    warnings = [line for line in out.splitlines() if line.startswith("WARN state store")]
    assert len(warnings) == 2
    assert "keeps nothing on disk (appendonly no, no RDB save)" in warnings[0]
    assert "may evict keys when full (maxmemory-policy allkeys-lru)" in warnings[1]


# --- /healthz is public; a Redis URL redis-py would misread ----------------------------------


async def test_healthz_says_a_fixed_word_and_logs_the_address(
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
    spawn: Spawn,
) -> None:
    bot = await spawn("bot")
    own_redis_server.stop()
    health = await http.get(bot.url + "/healthz")
    assert (health.status_code, health.json()) == (
        503,
        {"ok": False, "reason": "store_unavailable"},
    )
    assert "127.0.0.1" not in health.text and str(own_redis_server.port) not in health.text
    assert f"127.0.0.1:{own_redis_server.port}" in bot.stderr()  # for the operator


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://127.0.0.1:6379/0?socket_timeout=abc", "Invalid value for 'socket_timeout'"),
        ("redis://127.0.0.1:6379/abc", "the database (the part after the last /) must be a number"),
    ],
)
async def test_check_names_a_redis_url_redis_py_would_misread_in_one_line(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path, url: str, named: str
) -> None:
    settings = bot_settings(metastudio, slack, stoplive_redis_url=url)
    code, out, err, _ = await check(environment(settings), tmp_path)
    assert code == 1 and "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if "STOPLIVE_REDIS_URL" in line]
    assert named in line


# --- clocks that disagree ---------------------------------------------------------------------


async def test_a_replica_whose_clock_is_ahead_does_not_take_over_a_fresh_stop(
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
    spawn: Spawn,
) -> None:
    """B's clock is 20 s ahead: by it, A's 15 s lease (renewed every 5 s) has always lapsed,
    so B's first sweep would take A's stop over while its answer is 7 s away. Leases are on
    Redis's clock, so B leaves A's stop alone (and warns of its clock)."""
    a, b = await asyncio.gather(spawn("a"), spawn("b", clock_offset=20.0))
    value = await a.confirmation(http, slack, STOP)
    metastudio.inject(JOB, Fault("slow", seconds=7.0))  # B sweeps (every 5 s) meanwhile
    clicked = time.monotonic()
    await a.click(http, slack, value)
    [posted] = await slack.wait_for(lambda: channel_story(slack, JOB)[:1], 30)
    assert time.monotonic() - clicked > 6  # the stop's answer, not a take-over, came first
    assert await slack.wait_for(lambda: final_update(slack, posted.ts, "✅ Stopped:"), 20)
    assert not [c for c in channel_story(slack, JOB) if "Still live" in str(c.args)]
    assert [x["outcome"] for x in outcomes(a, JOB)] == ["stopped"] and outcomes(b, JOB) == []
    assert stop_calls(metastudio, JOB) == 1
    assert "this host's clock is 20 s ahead of Redis's" in b.stderr()
    assert "clock is" not in a.stderr()


async def test_a_ticket_clicked_before_expiry_is_used_even_on_a_replica_whose_clock_is_behind(
    metastudio: MetaStudioStandIn,
    slack: SlackStandIn,
    own_redis_server: RedisServer,
    http: httpx.AsyncClient,
    spawn: Spawn,
) -> None:
    """TTL 5 s: clicked at 3.8 s on A; the same button at 7.5 s on C, whose clock is 30 s
    behind (so by it the ticket is still valid). One stop; C's click is "already used"."""
    a, c = await asyncio.gather(
        spawn("a", stoplive_confirm_ttl=5), spawn("c", -30.0, stoplive_confirm_ttl=5)
    )
    value = await a.confirmation(http, slack, STOP)
    issued = time.monotonic()
    await asyncio.sleep(3.8)
    await a.click(http, slack, value)
    [posted] = await slack.wait_for(lambda: channel_story(slack, JOB)[:1], 20)
    assert await slack.wait_for(lambda: final_update(slack, posted.ts, "✅ Stopped:"), 20)
    await asyncio.sleep(max(7.5 - (time.monotonic() - issued), 0))
    again = await c.click(http, slack, value)
    told = await slack.wait_for(lambda: slack.posts(again), 20)
    assert told[0]["text"].startswith("✋ Already used")
    assert stop_calls(metastudio, JOB) == 1
    assert outcomes(c, JOB) == []
    [entry] = await journal(own_redis_server.url)
    assert entry.outcome == "stopped"


async def test_check_warns_when_this_hosts_clock_is_off_from_redis(
    own_redis_server: RedisServer, settings: dict[str, Any], tmp_path: Path
) -> None:
    own_redis_server.send("CONFIG SET appendonly yes")  # nothing else to warn of
    env = environment(settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SHIFTED_CLOCK, "-45", "check",
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0 and "Traceback" not in (out + err).decode()
    [warning] = [line for line in out.decode().splitlines() if line.startswith("WARN")]
    assert (
        "this host's clock is 45 s behind Redis's: leases and claims use Redis's clock" in warning
    )
