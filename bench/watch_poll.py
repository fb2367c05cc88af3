"""The stream watch's cost per poll: MetaStudio calls, store round trips and wall time.

    python -m bench.watch_poll [--jobs 50 500] [--latency 0.1] [--ended 5] [--runs 3]

One :class:`~bot.stopflow.watching.StreamWatch` (the bot's own, built as ``bot/app.py`` builds
it) against the MetaStudio stand-in holding ``--jobs`` live jobs, each in a room of its own,
answering every call after ``--latency`` seconds, and a SQLite state store whose calls are
counted (calls and round trips are the first run's: later runs have fewer jobs live). Notes go to an outlet that only counts them (Slack is not what is measured). For each
size: a quiet poll (nothing changed), a poll where ``--ended`` jobs ended with an error (each
read once, then told), and both again with the tenant-wide job list refused (room by room).
Everything runs in this process: the figures are the watch's own calls and waits.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth
from bot.sandbox.standins.metastudio import (
    NO_SUCH_API,
    TENANT_JOBS,
    Fault,
    MetaStudioStandIn,
    standin_holding,
)
from bot.stopflow.outlet import Outlet
from bot.stopflow.store import SqliteStore
from bot.stopflow.watch_state import NotifyRules
from bot.stopflow.watching import StreamWatch
from bot.stopflow.words.markup import Reply

AK, SK = "BENCHWATCHAK00000000", "bench-watch-secret"
CHANNEL = "C0ONCALL1"


class CountedStore(SqliteStore):
    """The SQLite store, counting each call (each is one round trip to its thread)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.calls: Counter[str] = Counter()

    async def hold(self, key: str, holder: str, ttl: float) -> str | None:
        self.calls["hold"] += 1
        return await super().hold(key, holder, ttl)

    async def get_note(self, key: str) -> str | None:
        self.calls["get_note"] += 1
        return await super().get_note(key)

    async def put_note(self, key: str, text: str, ttl: float) -> None:
        self.calls["put_note"] += 1
        await super().put_note(key, text, ttl)

    async def recent(self, since: float) -> Any:
        self.calls["recent"] += 1
        return await super().recent(since)


class CountingOutlet:
    """Takes every note, as a channel that always answers would."""

    posted = 0

    async def announce(self, reply: Reply, *, final: bool, fallback_url: str) -> str:
        CountingOutlet.posted += 1
        return f"{time.time():.6f}"


def outlets(channel_id: str, response_url: str, channel_ts: str) -> Outlet:
    return CountingOutlet()  # type: ignore[return-value]  # only announce is called


async def one_poll(
    watch: StreamWatch, standin: MetaStudioStandIn, store: CountedStore
) -> tuple[int, int, float]:
    """MetaStudio calls, store round trips and seconds of one poll."""
    calls, trips = len(standin.seen), sum(store.calls.values())
    started = time.perf_counter()
    result = await watch.poll_now()
    took = time.perf_counter() - started
    assert result == "ok", result
    return len(standin.seen) - calls, sum(store.calls.values()) - trips, took


async def measure(jobs: int, latency: float, ended: int, runs: int, tenant: bool) -> list[str]:
    job_ids = [f"room-{n:04d}/job-{n:04d}-0000-4000-8000-000000000000" for n in range(jobs)]
    standin = standin_holding(job_ids, "unused", AK, SK, latency)
    if not tenant:
        standin.inject(
            TENANT_JOBS, Fault("status", on="list", times=10**9, status=404, body=NO_SUCH_API)
        )
    await standin.start()
    rows: dict[str, list[tuple[int, int, float]]] = {"quiet": [], "ended": []}
    with tempfile.TemporaryDirectory(prefix="stoplive-bench-") as workdir:
        store = CountedStore(str(Path(workdir) / "state.db"))
        async with MetaStudioClient(
            base_url=standin.url,
            project_id=standin.project_id,
            auth=AkSkAuth(SecretStr(AK), SecretStr(SK), standin.project_id),
        ) as client:
            watch = StreamWatch(NotifyRules(CHANNEL), client, store, outlets, "bench")
            await watch.poll_now()  # learns what is live (and holds the lease)
            live = [job for job in standin.jobs.values()]
            for run in range(runs):
                rows["quiet"].append(await one_poll(watch, standin, store))
                for job in live[run * ended : (run + 1) * ended]:
                    job.end("FAILED", error_info={"error_code": "X", "error_msg": "RTMP"})
                rows["ended"].append(await one_poll(watch, standin, store))
        await store.aclose()
    await standin.stop()
    way = "tenant list" if tenant else "room by room"
    lines = []
    for kind, measured in rows.items():
        what = "quiet poll" if kind == "quiet" else f"{ended} ended with an error"
        lines.append(
            f"{jobs:>4} live, {way:<12}  {what:<24}"
            f"  MetaStudio calls {measured[0][0]:>4}"
            f"  store round trips {measured[0][1]:>2}"
            f"  wall {statistics.median(m[2] for m in measured) * 1000:>8.1f} ms"
        )
    return lines


async def run(sizes: list[int], latency: float, ended: int, runs: int) -> None:
    print(f"stream watch, one poll ({latency * 1000:.0f} ms per MetaStudio call; median of {runs})")
    for jobs in sizes:
        for tenant in (True, False):
            for line in await measure(jobs, latency, ended, runs, tenant):
                print(line, flush=True)
    print(f"notes posted: {CountingOutlet.posted}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--ended", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(run(options.jobs, options.latency, options.ended, options.runs))


if __name__ == "__main__":
    main()
