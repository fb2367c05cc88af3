"""``/stoplive`` with nothing, through the whole bot: command sent -> list of live jobs posted.

    python -m bench.find_live [--rooms 50] [--latency 0.1] [--runs 5]

What :mod:`bench.list_rooms` measures for the MetaStudio reads alone, measured here as a
requester sees it: a signed slash command to ``python -m bot`` (a process of its own), the ack,
then the follow-up message with every live job on the Slack stand-in's ``response_url``. The
MetaStudio stand-in (its own process too) holds ``--rooms`` live rooms with one job each and
waits ``--latency`` seconds before every answer. The target: the list posted within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.burst import CHANNEL, free_port
from bench.common import AK, SK, standin_process, stoplive_env
from tests.harness import ALICE, command_body, signed_headers

TARGET_SECONDS = 2.0


async def measure(url: str, slack_url: str, runs: int) -> tuple[list[float], list[float], str]:
    """(ack seconds, command -> list posted seconds) per run, and the last list's head."""
    acks: list[float] = []
    posted: list[float] = []
    head = ""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def send(text: str, hook: str) -> float:
            body = command_body(text, ALICE, CHANNEL, f"{slack_url}/hooks/{hook}")
            started = time.monotonic()
            async with http.post(url, data=body, headers=signed_headers(body)) as response:
                await response.read()
            return started

        async def hooked(hook: str) -> dict[str, Any]:
            for _ in range(300):
                async with http.get(slack_url + "/_recorded") as response:
                    seen = await response.json()
                found = [p for p in seen["url_posts"] if p["hook"] == hook]
                if found:
                    return dict(found[0])
                await asyncio.sleep(0.02)
            raise RuntimeError(f"no answer on {hook}")

        for _ in range(200):  # until the app listens (and has made Bolt's first auth.test)
            try:
                await send("help", "warm")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        for run in range(runs + 1):  # the first run warms the connections up; not counted
            hook = f"list-{run}"
            started = await send("", hook)
            acked = time.monotonic() - started
            answer = await hooked(hook)
            if run:
                acks.append(acked)
                posted.append(answer["at"] - started)  # both monotonic clocks of this machine
            head = str(answer["body"].get("text", ""))
    return acks, posted, head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    jobs = "\n".join(f"room-{n:04d}/job-{n:04d}" for n in range(args.rooms))
    standin = ["--room", "unused", "--ak", AK, "--sk", SK, "--latency", str(args.latency)]
    port = free_port()
    with (
        standin_process("bot.sandbox.standins.metastudio", *standin, stdin=jobs) as metastudio,
        standin_process("bot.sandbox.standins.slack") as slack_url,
        tempfile.TemporaryDirectory(prefix="stoplive-bench-") as workdir,
    ):
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=workdir,
            env=stoplive_env(Path(workdir), metastudio, slack_url, {ALICE: "ops-bench"})
            | {"PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            acks, posted, head = asyncio.run(
                measure(f"http://127.0.0.1:{port}/slack/events", slack_url, args.runs)
            )
        finally:
            process.terminate()
            process.wait(30)
    print(head.splitlines()[0] if head else "(no answer)")
    print(
        f"{args.rooms} live rooms, {args.latency * 1000:.0f} ms per MetaStudio answer: "
        f"/stoplive -> list posted in median {statistics.median(posted):.2f} s "
        f"(best {min(posted):.2f} s, worst {max(posted):.2f} s, {args.runs} runs; "
        f"target ≤ {TARGET_SECONDS:.0f} s); ack median {statistics.median(acks) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
