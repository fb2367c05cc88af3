"""How long a newcomer waits for ``python -m bot sandbox``: process start to the whole banner.

Each run is a fresh interpreter (imports included, as a newcomer pays them), started in an empty
directory with an environment holding nothing of stoplive's; the clock stops when the banner's
last line (``quit …``) is on stdout. The issue's target is under 3 s on a laptop. On a
shared machine the wall clock mostly measures the neighbours, so the CPU time each whole run
(start, banner, quit) used is printed too: it does not grow with the load.

    python -m bench.sandbox_startup --runs 9
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, percentile

BANNER_END = "  quit "


def one_run() -> tuple[float, float]:
    """Seconds from spawning the process to the end of its banner, and the CPU seconds the
    whole run used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    with tempfile.TemporaryDirectory() as cwd:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "sandbox"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdin and process.stdout
        for line in process.stdout:
            if line.startswith(BANNER_END):
                took = time.perf_counter() - started
                break
        else:
            raise RuntimeError(f"the sandbox ended before its banner (exit {process.wait()})")
        process.stdin.write("quit\n")
        process.stdin.close()
        process.stdout.read()
        if process.wait(30) != 0:
            raise RuntimeError(f"the sandbox exited {process.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return took, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    results = [one_run() for _ in range(runs)]
    samples, cpu = [r[0] for r in results], [r[1] for r in results]
    print(
        f"sandbox start-up to banner  n={runs}  p50={percentile(samples, 50):.2f} s  "
        f"min={min(samples):.2f} s  max={max(samples):.2f} s  "
        f"(CPU per run p50={percentile(cpu, 50):.2f} s; load {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores)  runs: {' '.join(f'{s:.2f}' for s in samples)}"
    )


if __name__ == "__main__":
    main()
