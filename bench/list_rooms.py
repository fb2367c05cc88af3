"""Listing every live job of a project: 50 rooms, MetaStudio taking 100 ms per answer.

    python -m bench.list_rooms [--rooms 50] [--latency 0.1] [--concurrency 8] [--runs 5]

What ``/stoplive`` with nothing does where MetaStudio refuses the tenant-wide job list:
``ListSmartLiveRooms`` (``live_state=WAITING,PROCESSING``), then each room's ``ListSmartLive``
(``state=WAITING,PROCESSING``), ``--concurrency`` rooms at a time, against
the stand-in in a process of its own that waits ``--latency`` seconds before every answer and
verifies every signature. The target: all of it within 2 s, inside what Slack allows for the
follow-up message after the 3 s ack.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from pydantic import SecretStr

from bench.common import AK, SK, standin_process
from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth
from bot.sandbox.standins.metastudio import DEFAULT_PROJECT_ID

PROJECT = DEFAULT_PROJECT_ID
TARGET_SECONDS = 2.0


async def list_live_jobs(url: str, concurrency: int) -> tuple[float, int, int]:
    """Seconds to list every live job, with how many rooms and jobs were found."""
    auth = AkSkAuth(SecretStr(AK), SecretStr(SK), PROJECT)
    async with MetaStudioClient(base_url=url, project_id=PROJECT, auth=auth) as client:
        started = time.perf_counter()
        rooms = (await client.list_rooms("bench", live_only=True)).entries
        found = await client.live_jobs_by_room(rooms, "bench", concurrency=concurrency)
        took = time.perf_counter() - started
    failures = [f.failure for f in found if f.failure is not None]
    assert not failures, failures
    return took, len(rooms), sum(len(f.jobs) for f in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    jobs = [f"room-{n:04d}/job-{n:04d}" for n in range(args.rooms)]
    command = ["--room", "unused", "--ak", AK, "--sk", SK, "--latency", str(args.latency)]
    with standin_process("bot.sandbox.standins.metastudio", *command, stdin="\n".join(jobs)) as url:
        timings = []
        for _ in range(args.runs):
            took, rooms, live = asyncio.run(list_live_jobs(url, args.concurrency))
            timings.append(took)
    print(
        f"{rooms} live rooms, {live} live jobs, {args.latency * 1000:.0f} ms per MetaStudio answer, "
        f"{args.concurrency} rooms at a time: listed in median {statistics.median(timings):.2f} s "
        f"(best {min(timings):.2f} s, worst {max(timings):.2f} s, {args.runs} runs; "
        f"target ≤ {TARGET_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
