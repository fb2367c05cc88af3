"""Helpers shared by the benchmarks: stand-ins in processes of their own, and percentiles."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from bot.sandbox import slack_requests
from bot.sandbox.standins.metastudio import DEFAULT_PROJECT_ID

ROOT = Path(__file__).resolve().parent.parent
AK, SK = "HPUABENCHACCESSKEY00", "bench-secret-key"
ROOM = "24bad716-87b1-45e5-8912-6102f7693265"
BOT_TOKEN = "xoxb-test"  # what the Slack stand-in accepts
SIGNING_SECRET = "3b1f0c5e9a7d42b8c6e0f1a2b3c4d5e6"  # the benched stoplive's; nothing else's
_METASTUDIO_ARGS = ("--room", ROOM, "--ak", AK, "--sk", SK)  # both MetaStudio stand-ins take


def signed_headers(body: str) -> dict[str, str]:
    """Headers that sign ``body`` as Slack would for the benched stoplive."""
    return slack_requests.signed_headers(body, SIGNING_SECRET)


def stoplive_env(
    workdir: Path,
    metastudio_url: str,
    slack_url: str,
    allowlist: Mapping[str, str],
    checkout: Path = ROOT,
) -> dict[str, str]:
    """The environment of a stoplive under a bench: this one's minus every setting stoplive
    reads, plus the bench's. It runs in ``workdir`` (no ``.env`` there) and keeps its journal
    there too; ``checkout`` is the stoplive it runs (see ``bench/burst.py --baseline``)."""
    outside = ("SLACK_", "STOPLIVE_", "METASTUDIO_", "HUAWEICLOUD_", "REDIS_", "PORT")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(outside)}
    path = os.pathsep.join(p for p in (str(checkout), inherited.get("PYTHONPATH", "")) if p)
    return inherited | {
        "PYTHONPATH": path,
        "METASTUDIO_PROJECT_ID": DEFAULT_PROJECT_ID,
        "METASTUDIO_ENDPOINT": metastudio_url,
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": SK,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url + "/api/",
        "STOPLIVE_MODE": "http",
        "STOPLIVE_HOST": "127.0.0.1",
        "STOPLIVE_LOG_LEVEL": "WARNING",
        "STOPLIVE_STATE_FILE": str(workdir / "stoplive-state.db"),
        "STOPLIVE_ALLOWLIST": json.dumps(dict(allowlist)),
    }


@contextmanager
def standin_process(module: str, *args: str, stdin: str = "") -> Iterator[str]:
    """A stand-in in a process of its own, so that it does not share an event loop with what
    is being measured. Yields its base URL."""
    with standin_urls(module, *args, stdin=stdin, count=1) as urls:
        yield urls[0]


@contextmanager
def standin_urls(module: str, *args: str, stdin: str = "", count: int = 1) -> Iterator[list[str]]:
    """As :func:`standin_process`, for a stand-in that prints ``count`` URLs, one a line."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin and process.stdout
    process.stdin.write(stdin)
    process.stdin.close()
    urls = [process.stdout.readline().strip() for _ in range(count)]
    try:
        if not all(urls):
            raise RuntimeError(f"{module} exited before printing its URLs")
        yield urls
    finally:
        process.terminate()
        process.wait(10)


def metastudio_process(job_ids: Sequence[str]) -> AbstractContextManager[str]:
    """The MetaStudio stand-in with ``job_ids`` live in room ROOM, AK/SK as above."""
    return standin_process(
        "bot.sandbox.standins.metastudio", *_METASTUDIO_ARGS, stdin="\n".join(job_ids)
    )


def counted_metastudio_process(job_ids: Sequence[str]) -> AbstractContextManager[list[str]]:
    """:func:`metastudio_process` plus a tally of its stop calls: yields ``[base URL, tally
    URL]`` (``bench/counted_metastudio.py``)."""
    return standin_urls(
        "bench.counted_metastudio", *_METASTUDIO_ARGS, stdin="\n".join(job_ids), count=2
    )


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median_difference(
    ours: Sequence[float], theirs: Sequence[float], resamples: int = 4000, seed: int = 0
) -> tuple[float, float, float]:
    """``median(ours) - median(theirs)`` and its 95 % bootstrap interval (low, high).

    Why an interval: one burst's p99 moves by 30-100 ms from run to run on a shared machine,
    so two medians a few ms apart say nothing. An interval wholly above zero shows a
    regression; one that holds zero shows none, and its top is the most the runs allow. At
    least two runs a side. Seeded: the same runs always print the same interval."""
    if min(len(ours), len(theirs)) < 2 or resamples < 40:
        raise ValueError("an interval needs two runs a side and 40 resamples")
    rng = random.Random(seed)
    differences = sorted(
        statistics.median(rng.choices(ours, k=len(ours)))
        - statistics.median(rng.choices(theirs, k=len(theirs)))
        for _ in range(resamples)
    )
    tail = resamples // 40  # 2.5 % each side
    low, high = differences[tail], differences[-1 - tail]
    return statistics.median(ours) - statistics.median(theirs), low, high


def summary(name: str, samples_ms: Sequence[float], wall_s: float) -> str:
    return (
        f"{name:<34} n={len(samples_ms):<4} mean={statistics.fmean(samples_ms):7.2f} ms  "
        f"p50={percentile(samples_ms, 50):7.2f} ms  p99={percentile(samples_ms, 99):7.2f} ms  "
        f"{len(samples_ms) / wall_s:8.1f} calls/s"
    )
