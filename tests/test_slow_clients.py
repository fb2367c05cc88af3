"""Slow and idle HTTP clients cannot starve Slack's requests: a request stalled while being
sent is cut, an idle keep-alive connection is closed, and connections are capped below the
file limit. Raw sockets on loopback; the file-limit case runs the bot as its own process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import socket
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from bot.sandbox.slack_requests import command_body
from bot.sandbox.standins.metastudio import MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from bot.slack.connections import Limits
from tests.builders import bot_settings
from tests.conftest import BotFactory
from tests.harness import ALICE, CHANNEL, signed_headers
from tests.test_process import environment, free_port

REQUEST_SECONDS = Limits().request_seconds
FAST = Limits(request_seconds=0.5, idle_seconds=1.0, max_connections=8)
STALLED_HEAD = (
    b"POST /slack/events HTTP/1.1\r\nHost: stoplive\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nab"
)


def stalled(port: int, data: bytes = STALLED_HEAD) -> socket.socket:
    """A connection that sent ``data`` (by default headers and 2 of 100 bytes) and stalls."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    return sock


async def closed_within(sock: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing ``sock``; AssertionError if it stays open."""
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    received = b""
    try:
        async with asyncio.timeout(seconds):
            while chunk := await loop.sock_recv(sock, 4096):
                received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s") from None
    finally:
        sock.close()
    return received


def defaults_meet_the_issue() -> None:
    limits = Limits()
    assert limits.request_seconds <= 15 and limits.idle_seconds <= 75
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert limits.max_connections <= soft // 2


async def test_a_request_stalled_in_its_body_or_headers_is_cut(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    defaults_meet_the_issue()
    bot = await start_bot(transport={"limits": FAST})
    port = bot.transport.port
    assert port is not None
    caplog.set_level(logging.INFO)
    body = stalled(port)
    head = stalled(port, b"POST /slack/events HTTP/1.1\r\nHost: stoplive\r\nContent-")
    started = time.monotonic()
    await asyncio.gather(closed_within(body, 3), closed_within(head, 3))
    assert time.monotonic() - started >= FAST.request_seconds * 0.9
    assert (await bot.command("help"))[0].status_code == 200  # served as ever
    cuts = [r for r in caplog.records if getattr(r, "reason", None) == "too_slow"]
    assert len(cuts) == 2 and all(r.levelno == logging.INFO for r in cuts)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_request_stalled_behind_one_answered_in_the_same_bytes_is_cut(
    start_bot: BotFactory,
) -> None:
    """Pipelined: a whole request and the head of a second, sent together. Answering the
    first must not leave the second's stalled body without a deadline."""
    bot = await start_bot(transport={"limits": FAST})
    port = bot.transport.port
    assert port is not None
    sock = stalled(port, b"GET /healthz HTTP/1.1\r\nHost: stoplive\r\n\r\n" + STALLED_HEAD)
    received = await closed_within(sock, FAST.request_seconds + 3)
    assert received.startswith(b"HTTP/1.1 200")  # the first was answered, the second cut


async def test_a_slow_but_whole_request_and_keep_alive_are_served(start_bot: BotFactory) -> None:
    bot = await start_bot(transport={"limits": FAST})
    port = bot.transport.port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(3):  # one connection, three requests, each answered
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: stoplive\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status.startswith(b"HTTP/1.1 200"), status
            while (await reader.readline()) != b"\r\n":
                pass
            assert json.loads(await reader.readexactly(len(b'{"ok": true}'))) == {"ok": True}
            await asyncio.sleep(FAST.request_seconds + 0.1)  # idle, yet not for idle_seconds
        # then idle for longer than idle_seconds: closed by the server
        assert await asyncio.wait_for(reader.read(), FAST.idle_seconds + 2) == b""
    finally:
        writer.close()


async def test_connections_over_the_cap_are_answered_503_at_once(start_bot: BotFactory) -> None:
    bot = await start_bot(transport={"limits": FAST})
    port = bot.transport.port
    assert port is not None
    held = [stalled(port) for _ in range(FAST.max_connections)]
    await asyncio.sleep(0.1)
    try:
        refused = await closed_within(stalled(port), 1)
        assert refused.startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()
    await asyncio.sleep(0.2)
    assert (await bot.command("help"))[0].status_code == 200


async def command_answer(http: httpx.AsyncClient, url: str, slack: SlackStandIn) -> float:
    """Seconds a signed ``/stoplive help`` took to be answered (AssertionError if not 200)."""
    body = command_body("help", ALICE, CHANNEL, slack.response_url(uuid.uuid4().hex[:8]))
    started = time.monotonic()
    answer = await http.post(url + "/slack/events", content=body, headers=signed_headers(body))
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started


async def test_300_stalled_clients_under_a_256_file_limit_do_not_starve_slack(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    port = free_port()
    env = environment(bot_settings(metastudio, slack, port=port))

    def lower_the_file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    log = tmp_path / "bot.err"  # a file, not a pipe nobody reads until the end: it fills
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
            preexec_fn=lower_the_file_limit,
        )
    url = f"http://127.0.0.1:{port}"
    sockets: list[socket.socket] = []
    try:
        async with httpx.AsyncClient(timeout=3.0) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(url + "/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            for _ in range(300):
                with contextlib.suppress(OSError):  # refused ones may be reset at once
                    sockets.append(stalled(port))
            stalled_at = time.monotonic()
            await asyncio.sleep(REQUEST_SECONDS + 3.0)
            # after the stall (the issue's 40 s, here 18 s): the stalled connections are gone,
            # and Slack's command is answered within its 3 s
            try:
                seconds = await command_answer(http, url, slack)
            except httpx.TimeoutException:
                raise AssertionError(
                    f"no answer within 3 s, {time.monotonic() - stalled_at:.1f} s after the "
                    f"stall; the bot's log ends: {log.read_text()[-3000:]}"
                ) from None
            assert seconds < 3.0
            for sock in sockets:
                await closed_within(sock, 2)
    finally:
        for sock in sockets:
            sock.close()
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    logged = log.read_text()
    assert process.returncode == 0, logged
    assert "Traceback" not in logged
    assert logged.count('"reason": "too_slow"') >= 100  # one INFO line per stalled connection
