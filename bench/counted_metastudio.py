"""The MetaStudio stand-in with a tally of the stop calls it received, per job, over HTTP.

    python -m bench.counted_metastudio --room ROOM --ak AK --sk SK < job_ids

Prints two lines: the stand-in's base URL, then the URL of ``GET`` tally, which answers
``{"calls": {job: n}, "applied": {job: n}}``: every stop request that reached the stand-in,
and those that found the job live and ended it. The once-only stress of ``bench/burst.py``
holds both to exactly one per job. The stand-in itself is ``bot.sandbox.standins``' own; the
tally is served on a port of its own because the stand-in's routes are its own business.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter

from aiohttp import web

from bot.sandbox.standins import serve_on_loopback
from bot.sandbox.standins.metastudio import MetaStudioStandIn, stoplive_signer

STOP_SUFFIX = "/stop"


def tally(standin: MetaStudioStandIn) -> dict[str, dict[str, int]]:
    """Stop requests per job (the job ID is the path segment before ``/stop``), and stops
    applied per job."""
    calls = Counter(
        seen.path.removesuffix(STOP_SUFFIX).rsplit("/", 1)[-1]
        for seen in standin.calls("POST", STOP_SUFFIX)
    )
    applied = {job.job_id: job.stops for job in standin.jobs.values() if job.stops}
    return {"calls": dict(calls), "applied": applied}


async def serve(jobs: list[str], room: str, ak: str, sk: str) -> None:
    standin = MetaStudioStandIn(signer=stoplive_signer)
    standin.aksk[ak] = sk
    for job_id in jobs:
        standin.add_job(room, job_id, room_name=f"Room {room}")

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
    options = parser.parse_args()
    asyncio.run(serve(sys.stdin.read().split(), options.room, options.ak, options.sk))


if __name__ == "__main__":
    main()
