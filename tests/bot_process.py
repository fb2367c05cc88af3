"""``python -m bot`` as a separate process that a test drives over HTTP and may SIGKILL.

The stand-ins stay in the test's own process (so faults can be injected and what they recorded
read); the bot reaches them by URL. Its stdout (the audit lines) and stderr go to files in its
working directory, so a process killed mid-stop leaves what it wrote for the test to read.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

import httpx

from bot.sandbox.slack_requests import action_payload, buttons, command_body
from bot.sandbox.standins.slack import SlackStandIn
from tests.harness import ALICE, CHANNEL, signed_headers
from tests.test_process import environment, free_port

READY_SECONDS = 30.0  # a start on a loaded 2-core machine

# ``python -m bot`` on a host whose clock is ``argv[1]`` seconds off: every read of the wall
# clock in that process (the bot's, and the libraries') is shifted, as on a host whose NTP
# failed. Done in the child before the bot is imported: the test's own process is untouched.
SHIFTED_CLOCK = """
import runpy, sys, time
offset, wall, wall_ns = float(sys.argv[1]), time.time, time.time_ns
time.time = lambda: wall() + offset
time.time_ns = lambda: wall_ns() + int(offset * 1e9)
sys.argv = ["bot", *sys.argv[2:]]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


class BotProcess:
    """One stoplive replica: started in ``directory`` with exactly ``settings`` (plus PORT);
    ``clock_offset`` seconds ahead of the real time (behind if negative), if not 0."""

    def __init__(
        self, name: str, settings: dict[str, Any], directory: Path, clock_offset: float = 0.0
    ) -> None:
        self.name = name
        self.clock_offset = clock_offset
        self.port = free_port()
        self.env = environment({**settings, "port": self.port})
        self.directory = directory
        self.process: asyncio.subprocess.Process | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self, http: httpx.AsyncClient) -> None:
        """Start it and return once ``/healthz`` says it can stop streams safely."""
        out, err = self._logs()
        run = ["-c", SHIFTED_CLOCK, str(self.clock_offset)] if self.clock_offset else ["-m", "bot"]
        with out, err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *run,
                env=self.env,
                cwd=self.directory,
                stdout=out,
                stderr=err,
            )
        await self.healthy(http, READY_SECONDS)

    def _logs(self) -> tuple[BinaryIO, BinaryIO]:
        """Its stdout and stderr files, appended to across restarts."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return (
            (self.directory / f"{self.name}.out").open("ab"),
            (self.directory / f"{self.name}.err").open("ab"),
        )

    async def healthy(self, http: httpx.AsyncClient, within: float) -> None:
        """Poll ``/healthz`` until it answers 200 (AssertionError after ``within`` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            assert self.process is not None and self.process.returncode is None, self.stderr()
            try:
                if (await http.get(self.url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, f"{self.name} not healthy: {self.stderr()}"
            await asyncio.sleep(0.1)

    async def health(self, http: httpx.AsyncClient) -> int:
        return (await http.get(self.url + "/healthz")).status_code

    async def kill(self) -> None:
        """SIGKILL: no drain, no goodbye, exactly as a crashed host."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def audit(self) -> list[dict[str, Any]]:
        """The audit lines it wrote to stdout (over all its starts)."""
        path = self.directory / f"{self.name}.out"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stderr(self) -> str:
        path = self.directory / f"{self.name}.err"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- what Slack sends ---------------------------------------------------------------

    async def command(
        self, http: httpx.AsyncClient, slack: SlackStandIn, text: str, user: str = ALICE
    ) -> str:
        """Post ``/stoplive text`` signed as Slack does; returns the command's response_url
        hook after checking the ack."""
        hook = uuid.uuid4().hex[:10]
        body = command_body(text, user, CHANNEL, slack.response_url(hook))
        answer = await http.post(
            self.url + "/slack/events", content=body, headers=signed_headers(body)
        )
        assert answer.status_code == 200, answer.text
        return hook

    async def confirmation(
        self, http: httpx.AsyncClient, slack: SlackStandIn, text: str, user: str = ALICE
    ) -> str:
        """The confirm button's value of the confirmation this replica answers ``text`` with."""
        hook = await self.command(http, slack, text, user)
        message = await slack.wait_for(lambda: next(iter(slack.posts(hook)), None), 20)
        return str(buttons(message)["stoplive.confirm"])

    async def click(
        self, http: httpx.AsyncClient, slack: SlackStandIn, value: str, user: str = ALICE
    ) -> str:
        """Click the confirm button; returns the click's response_url hook after the ack."""
        hook = uuid.uuid4().hex[:10]
        payload = action_payload("stoplive.confirm", value, user, CHANNEL, slack.response_url(hook))
        body = urlencode({"payload": json.dumps(payload)})
        answer = await http.post(
            self.url + "/slack/events", content=body, headers=signed_headers(body)
        )
        assert answer.status_code == 200, answer.text
        return hook
