"""The MetaStudio stand-in with a tally of the calls it received, over HTTP.

    python -m bench.counted_metastudio --room ROOM --ak AK --sk SK [--latency S] < job_ids

Prints two lines: the stand-in's base URL, then the URL of ``GET`` tally, which answers
``{"calls": {job: n}, "applied": {job: n}, "requests": n}``: every stop request that reached
the stand-in, and those that found the job live and ended it, per job (the once-only stress of
``bench/burst.py`` holds both to exactly one per job), and every request of any kind
(``bench/find_live.py`` counts a list's calls with it). ``room/job`` puts a job in a room of
its own; ``--no-tenant-list`` refuses ``ListSmartLiveJobs`` (404), as older regions do. The stand-in itself is ``bot.sandbox.standins``' own; the
tally is served on a port of its own because the stand-in's routes are its own business.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter

from aiohttp import web

from bot.sandbox.standins import serve_on_loopback
from bot.sandbox.standins.metastudio import (
    NO_SUCH_API,
    TENANT_JOBS,
    Fault,
    MetaStudioStandIn,
    standin_holding,
)

STOP_SUFFIX = "/stop"


def tally(standin: MetaStudioStandIn) -> dict[str, dict[str, int]]:
    """Stop requests per job (the job ID is the path segment before ``/stop``), stops applied
    per job, and requests of any kind."""
    calls = Counter(
        seen.path.removesuffix(STOP_SUFFIX).rsplit("/", 1)[-1]
        for seen in standin.calls("POST", STOP_SUFFIX)
    )
    applied = {job.job_id: job.stops for job in standin.jobs.values() if job.stops}
    return {"calls": dict(calls), "applied": applied, "requests": len(standin.seen)}


async def serve(
    jobs: list[str], room: str, ak: str, sk: str, latency: float, tenant_list: bool
) -> None:
    standin = standin_holding(jobs, room, ak, sk, latency)
    if not tenant_list:
        refused = Fault("status", on="list", status=404, body=NO_SUCH_API, times=sys.maxsize)
        standin.inject(TENANT_JOBS, refused)

    async def answer(_: web.Request) -> web.Response:
        return web.json_response(tally(standin))

    counter = web.Application()
    counter.router.add_get("/", answer)
    _, counter_url = await serve_on_loopback(counter)
    print(await standin.start(), flush=True)
    print(counter_url + "/", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--room", required=True)
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--no-tenant-list", action="store_true", help="refuse ListSmartLiveJobs")
    options = parser.parse_args()
    jobs = sys.stdin.read().split()
    tenant_list = not options.no_tenant_list
    asyncio.run(serve(jobs, options.room, options.ak, options.sk, options.latency, tenant_list))


if __name__ == "__main__":
    main()
