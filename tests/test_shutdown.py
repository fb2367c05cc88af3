"""Shutdown: requests stop first, confirmed stops get their drain, what is left is cancelled
and given time to say so, and nothing (a half-sent request, Socket Mode) holds the process."""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal

import httpx
import pytest

from bot.app import build
from bot.background import Background
from bot.config import load_settings
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from bot.slack.server import Transport
from tests.builders import JOB, ROOM, bot_settings
from tests.conftest import BotFactory
from tests.harness import Harness
from tests.test_process import environment, free_port, run_bot


async def test_cancel_lets_cut_work_say_so() -> None:
    background = Background()
    said: list[str] = []
    never = asyncio.Event()

    async def stop_that_hangs() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # e.g. a last chat.update
            said.append("shut down while checking")
            raise

    background.spawn(stop_that_hangs())
    assert await background.drain(0.01) is False
    assert await background.cancel(5.0) is True
    assert said == ["shut down while checking"] and len(background) == 0


async def test_spawned_work_lets_the_acks_already_due_go_first() -> None:
    """Work spawned by a listener starts a turn late: what the loop already had to run (the
    next requests' handlers, their acks) runs before it."""
    background = Background()
    order: list[str] = []

    async def stop() -> None:
        order.append("stop")

    background.spawn(stop())
    asyncio.get_running_loop().call_soon(order.append, "next ack")
    assert await background.drain(1.0) is True
    assert order == ["next ack", "stop"]


async def test_work_cancelled_before_it_began_is_closed_not_leaked() -> None:
    background = Background()
    ran: list[str] = []

    async def stop() -> None:
        ran.append("stop")

    work = stop()
    background.spawn(work)
    assert await background.cancel(1.0) is True
    assert ran == [] and inspect.getcoroutinestate(work) == inspect.CORO_CLOSED


async def test_cancel_gives_up_on_work_that_ignores_it() -> None:
    background = Background()
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                continue

    background.spawn(stubborn())
    await asyncio.sleep(0.01)  # it has started (work cancelled before it starts just ends)
    assert await background.cancel(0.05) is False
    released.set()
    assert await background.drain(1.0) is True


async def test_a_stop_longer_than_the_drain_is_cut_short(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    metastudio.inject(JOB, Fault("slow", seconds=2))
    stoplive = build(load_settings(**bot_settings(metastudio, slack)))
    transport = Transport(stoplive, drain_seconds=0.2)
    await transport.open()
    async with httpx.AsyncClient(timeout=10) as http:
        bot = Harness(stoplive, transport, slack, metastudio, http)
        value, _ = await bot.confirmation(f"{ROOM} {JOB}")
        response, hook = await bot.click("stoplive.confirm", value)
        assert response.status_code == 200
        await slack.wait_for(lambda: slack.posts(hook))  # "stopping…": the stop is under way
    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(transport.close(), 10)
    assert len(stoplive.background) == 0
    assert "some stops cut short" in caplog.text


async def test_socket_mode_closes_first_and_does_not_reconnect(
    start_bot: BotFactory,
) -> None:
    bot: Harness = await start_bot(stoplive_mode="socket", slack_app_token="xapp-test")
    bot.metastudio.inject(JOB, Fault("slow", seconds=1.0))
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 1)
    value = await socket_confirmation(bot)
    await bot.slack.send_envelope(
        "interactive",
        {
            "type": "block_actions",
            "user": {"id": "U0ALICE01"},
            "channel": {"id": "C0INCIDENT"},
            "response_url": bot.slack.response_url("click"),
            "actions": [{"action_id": "stoplive.confirm", "value": value}],
        },
    )
    await bot.slack.wait_for(lambda: bot.slack.posts("click"))  # the stop is under way
    closing = asyncio.ensure_future(bot.transport.close())
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 0)
    assert not closing.done()  # the stop is still draining, with Slack already let go
    await closing
    assert len(bot.slack.calls("apps.connections.open")) == 1
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("✅ Stopped:")


async def socket_confirmation(bot: Harness) -> str:
    from tests.harness import buttons

    envelope = await bot.slack.send_envelope(
        "slash_commands",
        {
            "command": "/stoplive",
            "text": f"{ROOM} {JOB}",
            "user_id": "U0ALICE01",
            "channel_id": "C0INCIDENT",
            "response_url": bot.slack.response_url("cmd"),
        },
    )
    await bot.slack.wait_for(lambda: envelope in bot.slack.acks)
    return buttons(await bot.first_post("cmd"))["stoplive.confirm"]


async def test_half_sent_and_idle_connections_do_not_hold_the_process(
    metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    port = free_port()
    process = await run_bot(env=environment(bot_settings(metastudio, slack, port=port)))
    try:
        async with httpx.AsyncClient(timeout=10) as http:  # keeps its connection: idle
            for _ in range(100):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf"
            )
            await writer.drain()
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 15)  # not aiohttp's 60 s
            assert await reader.read() == b""  # cut, not answered
            writer.close()
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
