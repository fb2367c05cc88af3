"""The benchmarks' statistics: pure functions, checked like any other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bench.common import median_difference, percentile


def test_the_same_runs_differ_by_nothing() -> None:
    runs = [120.0, 95.0, 160.0, 101.0, 133.0, 99.0, 140.0]
    difference, low, high = median_difference(runs, runs)
    assert difference == 0
    assert low < 0 < high  # resampling each side on its own still spreads


def test_a_shift_wider_than_the_noise_shows() -> None:
    theirs = [100.0, 104.0, 98.0, 110.0, 95.0, 102.0, 107.0, 99.0, 101.0]
    ours = [value + 50 for value in theirs]
    difference, low, high = median_difference(ours, theirs)
    assert difference == 50
    assert 40 <= low <= difference <= high <= 60


def test_the_interval_is_reproducible() -> None:
    ours, theirs = [1.0, 5.0, 3.0, 9.0], [2.0, 4.0, 8.0, 6.0]
    assert median_difference(ours, theirs) == median_difference(ours, theirs)


def test_percentile_picks_a_sample() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 51
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile([7.0], 99) == 7


def test_one_run_a_side_is_no_interval() -> None:
    with pytest.raises(ValueError, match="two runs"):
        median_difference([10.0], [12.0, 11.0])


def test_the_benchmarks_import_nothing_from_the_tests() -> None:
    """A benchmark runs against another checkout (``--baseline``) whose tests may differ, and
    the tests may change freely: what both need lives in ``bot/sandbox`` or ``bench/``."""
    bench = Path(__file__).resolve().parent.parent / "bench"
    imported = {
        (path.name, name)
        for path in bench.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        if name == "tests" or name.startswith("tests.")
    }
    assert imported == set()
