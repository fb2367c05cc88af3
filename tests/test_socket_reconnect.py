"""Socket Mode when Slack misbehaves: connections dropped right after ``hello``, bursts of
``disconnect`` requests, a token revoked while running; and the health endpoints Socket Mode
replicas are probed on. Over a real websocket and real HTTP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path

import httpx
import pytest
import yaml

from bot.config import ConfigError
from bot.sandbox.standins.metastudio import MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from bot.slack.socket_mode import RECONNECT, Backoff
from tests.builders import bot_settings
from tests.conftest import BotFactory
from tests.harness import ALICE, Harness, signed_bytes_headers
from tests.test_e2e_home import home_opened, post_event
from tests.test_process import REPO, environment, free_port, run_bot
from tests.test_socket_mode import help_works

SOCKET = {"stoplive_mode": "socket", "slack_app_token": "xapp-test"}


def reconnect_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "reconnect" in r.getMessage().lower()]


async def connected(bot: Harness) -> None:
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 1)


async def test_a_server_dropping_every_connection_after_hello_gets_backoff_not_a_storm(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot(**SOCKET)
    await connected(bot)
    caplog.set_level(logging.DEBUG)
    bot.slack.drop_after_hello = True
    await bot.slack.close_sockets()
    await asyncio.sleep(4.0)
    opened = bot.slack.calls("apps.connections.open")
    # the first at start-up; then waits of 1-2 s and 2-4 s (was: 10,543 calls in 15 s)
    assert 2 <= len(opened) <= 3, len(opened)
    assert len(reconnect_lines(caplog)) == 1  # once for the episode, not once a try
    assert len([r for r in caplog.records if r.name.startswith(("bot", "slack"))]) <= 5
    bot.slack.drop_after_hello = False
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 1, within=10)
    await help_works(bot)


async def test_the_backoff_starts_over_after_a_connection_that_lasted(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    backoff = Backoff(first=0.1, cap=2.0, lasted=1.0)
    bot = await start_bot(transport={"reconnect": backoff}, **SOCKET)
    await connected(bot)
    caplog.set_level(logging.INFO)
    bot.slack.drop_after_hello = True
    await bot.slack.close_sockets()
    # tries 0.1-0.2, 0.2-0.4, ... apart: by the 6th the wait has reached the cap's 1-2 s
    await bot.slack.wait_for(lambda: len(bot.slack.calls("apps.connections.open")) >= 7, 10)
    bot.slack.drop_after_hello = False
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 1, within=10)
    await asyncio.sleep(backoff.lasted + 0.3)  # this connection lasted
    before = len(bot.slack.calls("apps.connections.open"))
    lost = asyncio.get_running_loop().time()
    await bot.slack.close_sockets()
    await bot.slack.wait_for(lambda: len(bot.slack.calls("apps.connections.open")) > before, 5)
    assert asyncio.get_running_loop().time() - lost < 0.5  # the first wait again, not the cap's
    assert len(reconnect_lines(caplog)) == 2  # two episodes
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 1, within=10)
    await help_works(bot)


async def test_a_burst_of_disconnect_requests_is_one_reconnection(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot(**SOCKET)
    await connected(bot)
    caplog.set_level(logging.INFO)
    await bot.slack.send_disconnects(20)
    await help_works(bot)  # the old connection serves until the new one is open
    await asyncio.sleep(RECONNECT.first + 1.5)
    assert len(bot.slack.calls("apps.connections.open")) == 2  # was 21 more
    assert (bot.slack.sockets_opened, bot.slack.sockets_open) == (2, 1)
    [line] = reconnect_lines(caplog)
    assert line.levelno == logging.INFO  # Slack asked: routine, not a warning
    await help_works(bot)


async def test_a_token_revoked_while_running_ends_the_process_naming_it(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    settings = bot_settings(metastudio, slack, **SOCKET)
    process = await run_bot(env=environment(settings))
    try:
        await slack.wait_for(lambda: slack.sockets_open == 1, 30)
        slack.connections_error = "token_revoked"
        await slack.close_sockets()
        _, err = await asyncio.wait_for(process.communicate(), 15)  # was: retried for ever
    finally:
        if process.returncode is None:
            process.kill()
    text = err.decode()
    assert process.returncode == 1, text
    assert "Traceback" not in text and "xapp-test" not in text
    assert text.splitlines()[-1].startswith("SLACK_APP_TOKEN: Slack refused it (token_revoked)")
    assert len(slack.calls("apps.connections.open")) == 2  # refused once: not retried


async def test_a_bot_token_revoked_while_running_ends_the_transport_naming_it(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    failure = asyncio.ensure_future(bot.transport.failure())
    bot.slack.bot_token_error = "token_revoked"
    assert await post_event(bot, home_opened(ALICE)) == 200  # its views.publish is refused
    with pytest.raises(ConfigError) as refused:
        await asyncio.wait_for(failure, 5)  # python -m bot then exits 1 with this line
    assert str(refused.value).startswith("SLACK_BOT_TOKEN: Slack refused it (token_revoked)")
    assert "\n" not in str(refused.value) and "xoxb-test" not in str(refused.value)


async def test_a_refusal_that_is_not_about_the_token_is_not_fatal(start_bot: BotFactory) -> None:
    bot = await start_bot()
    failure = asyncio.ensure_future(bot.transport.failure())
    bot.slack.bot_token_error = "missing_scope"
    assert await post_event(bot, home_opened(ALICE)) == 200
    await bot.slack.wait_for(lambda: bot.slack.calls("auth.test"))  # Bolt's, refused
    await asyncio.sleep(0.3)
    assert not failure.done()
    failure.cancel()


async def test_socket_mode_serves_healthz_and_metrics_on_port(start_bot: BotFactory) -> None:
    bot = await start_bot(**SOCKET)
    assert bot.transport.port is not None
    base = f"http://127.0.0.1:{bot.transport.port}"
    health = await bot.http.get(base + "/healthz")
    assert (health.status_code, health.json()) == (200, {"ok": True})
    metrics = await bot.http.get(base + "/metrics")
    assert metrics.status_code == 200
    assert 'stoplive_socket_connects_total{result="connected"}' in metrics.text
    # Slack's requests come over the websocket: nothing takes them over HTTP
    assert (await bot.http.post(base + "/slack/events", content=b"x")).status_code == 404


async def test_socket_mode_health_can_be_turned_off(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_socket_health="false", **SOCKET)
    assert bot.transport.port is None
    await help_works(bot)


def test_every_compose_replica_has_a_healthcheck_on_healthz() -> None:
    compose = yaml.safe_load((Path(REPO) / "docker-compose.yml").read_text())
    bots = {name: s for name, s in compose["services"].items() if name.startswith("bot")}
    assert len(bots) >= 2
    for service in bots.values():
        check = service["healthcheck"]
        assert any("/healthz" in part for part in check["test"]), check
        assert service["environment"]["STOPLIVE_MODE"] == "socket"


async def test_healthz_in_socket_mode_over_a_real_process(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    port = free_port()
    process = await run_bot(env=environment(bot_settings(metastudio, slack, port=port, **SOCKET)))
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                try:
                    answer = await http.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("no /healthz in Socket Mode")
        assert answer.status_code == 200
    finally:
        process.terminate()
        await process.wait()


async def test_a_bot_token_revoked_while_running_ends_the_process(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    port = free_port()
    process = await run_bot(env=environment(bot_settings(metastudio, slack, port=port)))
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(url + "/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            slack.bot_token_error = "account_inactive"
            raw = json.dumps(home_opened(ALICE)).encode()
            headers = signed_bytes_headers(raw, "application/json")
            assert (await http.post(url + "/slack/events", content=raw, headers=headers)).is_success
        _, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
    text = err.decode()
    assert process.returncode == 1, text
    assert text.splitlines()[-1].startswith("SLACK_BOT_TOKEN: Slack refused it (account_inactive)")
    assert "Traceback" not in text and "xoxb-test" not in text
