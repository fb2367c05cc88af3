"""``/stoplive`` with nothing, through the whole bot: command sent -> list of live jobs posted.

    python -m bench.find_live [--rooms 50] [--latency 0.1] [--runs 5] [--baseline CHECKOUT]
                              [--no-tenant-list]

What :mod:`bench.list_rooms` measures for the MetaStudio reads alone, measured here as a
requester sees it: a signed slash command to ``python -m bot`` (a process of its own), the ack,
then the follow-up message with every live job on the Slack stand-in's ``response_url``. The
MetaStudio stand-in (its own process too) holds ``--rooms`` live rooms with one job each, waits
``--latency`` seconds before every answer and counts the calls each list made. The target: the
list posted within 2 s.

``--baseline CHECKOUT`` runs another checkout's stoplive the same way, after this one, against
the same stand-ins (``git worktree add /tmp/base 98808a7``: the code before the tenant-wide job
list). ``--no-tenant-list`` makes the stand-in refuse ``ListSmartLiveJobs`` (404, as older
regions do), so this stoplive reads room by room.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.burst import CHANNEL, free_port
from bench.common import (
    AK,
    ROOT,
    SK,
    signed_headers,
    standin_process,
    standin_urls,
    stoplive_env,
)
from bot.sandbox.slack_requests import command_body

ALICE = "U0ALICE01"

TARGET_SECONDS = 2.0


@dataclass
class Measured:
    acks: list[float] = field(default_factory=list)  # seconds, per run
    posted: list[float] = field(default_factory=list)  # command -> list posted, seconds
    calls: list[int] = field(default_factory=list)  # MetaStudio calls of each list
    head: str = ""  # the last list's first line


async def measure(url: str, slack_url: str, tally_url: str, runs: int, name: str) -> Measured:
    """Each run's ack, command -> list posted, and MetaStudio calls (hooks named after
    ``name``: the Slack stand-in keeps every app's posts)."""
    measured = Measured()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def requests() -> int:
            async with http.get(tally_url) as response:
                return int((await response.json())["requests"])

        async def send(text: str, hook: str) -> float:
            body = command_body(text, ALICE, CHANNEL, f"{slack_url}/hooks/{hook}")
            started = time.monotonic()
            async with http.post(url, data=body, headers=signed_headers(body)) as response:
                await response.read()
            return started

        async def hooked(hook: str) -> dict[str, Any]:
            for _ in range(1000):
                async with http.get(slack_url + "/_recorded") as response:
                    seen = await response.json()
                found = [p for p in seen["url_posts"] if p["hook"] == hook]
                if found:
                    return dict(found[0])
                await asyncio.sleep(0.02)
            raise RuntimeError(f"no answer on {hook}")

        for _ in range(200):  # until the app listens (and has made Bolt's first auth.test)
            try:
                await send("help", f"{name}-warm")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        for run in range(runs + 1):  # the first run warms the connections up; not counted
            hook = f"{name}-list-{run}"
            before = await requests()
            started = await send("", hook)
            acked = time.monotonic() - started
            answer = await hooked(hook)
            calls = await requests() - before
            if run:
                measured.acks.append(acked)
                measured.posted.append(answer["at"] - started)  # both monotonic clocks
                measured.calls.append(calls)
            measured.head = str(answer["body"].get("text", ""))
    return measured


def run_bot(
    name: str, checkout: Path, metastudio: str, tally: str, slack_url: str, runs: int
) -> Measured:
    """``checkout``'s stoplive in a process of its own, measured ``runs`` times."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="stoplive-bench-") as workdir:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=workdir,
            env=stoplive_env(Path(workdir), metastudio, slack_url, {ALICE: "ops-bench"}, checkout)
            | {"PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return asyncio.run(
                measure(f"http://127.0.0.1:{port}/slack/events", slack_url, tally, runs, name)
            )
        finally:
            process.terminate()
            process.wait(30)


def report(name: str, measured: Measured, rooms: int, latency: float, runs: int) -> None:
    posted = measured.posted
    print(f"{name}: {measured.head.splitlines()[0] if measured.head else '(no answer)'}")
    print(
        f"  {rooms} live rooms, {latency * 1000:.0f} ms per MetaStudio answer: "
        f"/stoplive -> list posted in median {statistics.median(posted):.2f} s "
        f"(best {min(posted):.2f} s, worst {max(posted):.2f} s, {runs} runs; "
        f"target ≤ {TARGET_SECONDS:.0f} s); {statistics.median(measured.calls):.0f} MetaStudio "
        f"calls; ack median {statistics.median(measured.acks) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", metavar="CHECKOUT", help="another stoplive to compare")
    parser.add_argument("--no-tenant-list", action="store_true", help="refuse ListSmartLiveJobs")
    args = parser.parse_args()
    checkouts = {"stoplive": ROOT}
    if args.baseline:
        checkouts["baseline"] = Path(args.baseline).resolve()
        if not (checkouts["baseline"] / "bot" / "__main__.py").is_file():
            raise SystemExit(f"--baseline {args.baseline}: no stoplive checkout there")
    jobs = "\n".join(f"room-{n:04d}/job-{n:04d}" for n in range(args.rooms))
    standin = ["--room", "unused", "--ak", AK, "--sk", SK, "--latency", str(args.latency)]
    if args.no_tenant_list:
        standin.append("--no-tenant-list")
    with (
        standin_urls("bench.counted_metastudio", *standin, stdin=jobs, count=2) as urls,
        standin_process("bot.sandbox.standins.slack") as slack_url,
    ):
        for name, checkout in checkouts.items():
            measured = run_bot(name, checkout, urls[0], urls[1], slack_url, args.runs)
            report(name, measured, args.rooms, args.latency, args.runs)


if __name__ == "__main__":
    main()
