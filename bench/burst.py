"""A burst of concurrent ``/stoplive`` commands and clicks: stoplive vs a bare Bolt app.

    python -m bench.burst [--requests 200]

Every part runs as a process of its own: the app under test (``python -m bot`` or
``python -m bench.bare_app``), the MetaStudio stand-in, the Slack stand-in, and this load
generator. ``--requests`` different allowlisted users each send a signed slash command at once,
then all click their confirmation at once. Reported per app, in ms:

- ack: the HTTP round trip of the command / the click (Slack drops anything over 3 s);
- command -> confirmation: until the confirmation reaches Slack (stoplive looks the job up first);
- click -> announcement: until the channel message is posted;
- click -> verified: until that message says the job has ended (stoplive only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.common import AK, ROOM, ROOT, SK, metastudio_process, percentile, standin_process
from bot.sandbox.standins.metastudio import DEFAULT_PROJECT_ID
from tests.harness import SIGNING_SECRET, action_payload, buttons, command_body, signed_headers

CHANNEL = "C0BURST01"
BOT_TOKEN = "xoxb-test"  # what the Slack stand-in accepts
Recorded = dict[str, list[dict[str, Any]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user(i: int) -> str:
    return f"U0B{i:06d}"


def burst(target: str, n: int) -> dict[str, list[float]]:
    jobs = [f"{target}-{i:05d}" for i in range(n)]
    port = free_port()
    with (
        metastudio_process(jobs) as metastudio_url,
        standin_process("bot.sandbox.standins.slack") as slack_url,
    ):
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "STOPLIVE_", "METASTUDIO_", "HUAWEICLOUD_"))
            },
            "METASTUDIO_PROJECT_ID": DEFAULT_PROJECT_ID,
            "METASTUDIO_ENDPOINT": metastudio_url,
            "HUAWEICLOUD_SDK_AK": AK,
            "HUAWEICLOUD_SDK_SK": SK,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_url + "/api/",
            "STOPLIVE_MODE": "http",
            "PORT": str(port),
            "STOPLIVE_HOST": "127.0.0.1",
            "STOPLIVE_LOG_LEVEL": "WARNING",
            "STOPLIVE_ALLOWLIST": json.dumps({user(i): f"ops-{i}" for i in range(n)}),
        }
        module = "bot" if target == "stoplive" else "bench.bare_app"
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return asyncio.run(
                _load(
                    f"http://127.0.0.1:{port}/slack/events",
                    slack_url,
                    jobs,
                    verifies=target == "stoplive",
                )
            )
        finally:
            process.terminate()
            process.wait(30)


async def _load(
    url: str, slack_url: str, jobs: Sequence[str], verifies: bool
) -> dict[str, list[float]]:
    n = len(jobs)
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "command ack",
            "command -> confirmation",
            "click ack",
            "click -> announcement",
            "click -> verified",
        )
    }
    # aiohttp, not httpx, sends the load: httpcore's pool is quadratic in queued requests and
    # would measure itself (see bot/metastudio/client.py).
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
    ) as http:

        async def post(body: str) -> bytes:
            async with http.post(url, data=body, headers=signed_headers(body)) as response:
                return await response.read()

        async def recorded(until: Callable[[Recorded], bool]) -> Recorded:
            for _ in range(600):
                async with http.get(slack_url + "/_recorded") as response:
                    seen: Recorded = await response.json()
                if until(seen):
                    return seen
                await asyncio.sleep(0.1)
            raise RuntimeError("timed out waiting for Slack calls")

        for _ in range(200):  # until the app listens
            try:
                body = command_body("help", user(0), CHANNEL, slack_url + "/hooks/warm")
                await post(body)  # and Bolt's first auth.test
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)

        sent: dict[str, float] = {}
        values: dict[str, str] = {}

        async def command(i: int) -> None:
            hook = f"cmd-{i}"
            body = command_body(f"{ROOM} {jobs[i]}", user(i), CHANNEL, f"{slack_url}/hooks/{hook}")
            sent[hook] = started = time.monotonic()
            answer = await post(body)
            results["command ack"].append((time.monotonic() - started) * 1000)
            if answer:  # the bare app confirms in the ack itself
                values[hook] = buttons(json.loads(answer))["stoplive.confirm"]
                results["command -> confirmation"].append(results["command ack"][-1])

        await asyncio.gather(*(command(i) for i in range(n)))
        if len(values) < n:
            seen = await recorded(
                lambda r: len([p for p in r["url_posts"] if p["hook"].startswith("cmd-")]) >= n
            )
            for hooked in seen["url_posts"]:
                if hooked["hook"].startswith("cmd-"):
                    values[hooked["hook"]] = buttons(hooked["body"])["stoplive.confirm"]
                    results["command -> confirmation"].append(
                        (hooked["at"] - sent[hooked["hook"]]) * 1000
                    )

        clicked: dict[str, float] = {}

        async def click(i: int) -> None:
            payload = action_payload(
                "stoplive.confirm",
                values[f"cmd-{i}"],
                user(i),
                CHANNEL,
                f"{slack_url}/hooks/click-{i}",
            )
            body = urlencode({"payload": json.dumps(payload)})
            clicked[jobs[i]] = started = time.monotonic()
            await post(body)
            results["click ack"].append((time.monotonic() - started) * 1000)

        await asyncio.gather(*(click(i) for i in range(n)))

        def done(r: Recorded) -> bool:
            posted = [c for c in r["api_calls"] if c["method"] == "chat.postMessage"]
            verified = [
                c
                for c in r["api_calls"]
                if c["method"] == "chat.update" and c["args"]["text"].startswith("✅ Stopped")
            ]
            return len(posted) >= n and (not verifies or len(verified) >= n)

        for call in (await recorded(done))["api_calls"]:
            text = call["args"].get("text", "")
            job = next((j for j in jobs if f"`{j}`" in text), None)
            if job is None:
                continue
            if call["method"] == "chat.postMessage":
                results["click -> announcement"].append((call["at"] - clicked[job]) * 1000)
            elif call["method"] == "chat.update" and text.startswith("✅ Stopped"):
                results["click -> verified"].append((call["at"] - clicked[job]) * 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    n = parser.parse_args().requests
    ours, bare = burst("stoplive", n), burst("bare", n)
    print(f"burst of {n} concurrent /stoplive commands, then {n} concurrent clicks (ms)")
    print(f"{'':26}{'stoplive p50':>14}{'p99':>9}{'max':>9}{'bare p50':>12}{'p99':>9}{'max':>9}")
    for key in ours:
        row = f"{key:26}"
        for samples in (ours[key], bare[key]):
            row += (
                "".join(
                    f"{percentile(samples, q):9.1f}" if samples else f"{'-':>9}"
                    for q in (50, 99, 100)
                )
                + "   "
            )
        print(row)


if __name__ == "__main__":
    main()
