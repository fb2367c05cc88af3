"""stoplive's MetaStudio client vs Huawei's SDK (``stop_smart_live``), same stand-in, same calls.

    python -m bench.client_vs_sdk [--calls 200] [--concurrency 20]

Both sign with AK/SK and stop a fresh job per call against the stand-in, which runs in its own
process and verifies every signature. Sequential: one call after another. Concurrent: the same
number of calls with ``--concurrency`` in flight (asyncio tasks for ours; a thread pool for the
SDK, which is synchronous).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkmetastudio.v1 import MetaStudioClient as SdkClient
from huaweicloudsdkmetastudio.v1 import StopSmartLiveRequest
from pydantic import SecretStr

from bench.common import AK, ROOM, SK, metastudio_process, summary
from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth
from bot.sandbox.standins.metastudio import DEFAULT_PROJECT_ID

PROJECT = DEFAULT_PROJECT_ID


async def ours(url: str, jobs: list[str], concurrency: int) -> tuple[list[float], float]:
    async with MetaStudioClient(
        base_url=url, project_id=PROJECT, auth=AkSkAuth(SecretStr(AK), SecretStr(SK), PROJECT)
    ) as client:
        await client.get_job(ROOM, jobs[0], "bench")  # warm the connection, as the SDK's is
        gate = asyncio.Semaphore(concurrency)
        samples: list[float] = []

        async def one(job: str) -> None:
            async with gate:
                started = time.perf_counter()
                await client.stop_job(ROOM, job, "bench")
                samples.append((time.perf_counter() - started) * 1000)

        wall = time.perf_counter()
        await asyncio.gather(*(one(job) for job in jobs))
        return samples, time.perf_counter() - wall


def sdk(url: str, jobs: list[str], concurrency: int) -> tuple[list[float], float]:
    client = (
        SdkClient.new_builder()
        .with_http_config(HttpConfig.get_default_config())
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([url])
        .build()
    )
    samples: list[float] = []

    def one(job: str) -> None:
        started = time.perf_counter()
        client.stop_smart_live(
            StopSmartLiveRequest(room_id=ROOM, job_id=job, x_app_user_id="bench")
        )
        samples.append((time.perf_counter() - started) * 1000)

    one(jobs[0])  # warm-up
    samples.clear()
    wall = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, jobs[1:]))
    return samples, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    n = args.calls
    plan = {
        name: [f"{name}-{i:05d}" for i in range(n + 1)]
        for name in ("ours-seq", "ours-con", "sdk-seq", "sdk-con")
    }
    with metastudio_process([job for jobs in plan.values() for job in jobs]) as url:
        print(f"stop calls against the MetaStudio stand-in at {url} ({n} calls each)")
        for label, jobs, conc in (
            ("sequential", "seq", 1),
            (f"concurrent ({args.concurrency} in flight)", "con", args.concurrency),
        ):
            print(f"-- {label}")
            samples, wall = asyncio.run(ours(url, plan[f"ours-{jobs}"][1:], conc))
            print(summary("stoplive client (httpx, async)", samples, wall))
            samples, wall = sdk(url, plan[f"sdk-{jobs}"], conc)
            print(summary("huaweicloudsdkmetastudio", samples, wall))


if __name__ == "__main__":
    main()
