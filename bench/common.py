"""Shared bench plumbing: medians, a results table with ratios, bench containers."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable

BENCH_LABEL = "dockerlink.test"


def median_ms(
    fn: Callable[[], object], repeat: int, warmup: int = 1, clock: Callable[[], float] = time.perf_counter
) -> float:
    """`fn`'s median time in ms by `clock` (wall; `time.process_time` for this process's CPU)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        samples.append((clock() - t0) * 1000)
    return statistics.median(samples)


def print_table(title: str, rows: list[tuple[str, float, float, float]], subject: str = "dockerlink") -> None:
    """rows: (operation, ours_ms, raw_ms, cli_ms)."""
    print(f"\n{title}")
    head = f"{'operation':<34} {subject + ' ms':>14} {'raw ms':>9} {'CLI ms':>9} {'vs raw':>8} {'vs CLI':>8}"
    print(head)
    print("-" * len(head))
    for name, ours, raw, cli in rows:
        print(f"{name:<34} {ours:>14.2f} {raw:>9.2f} {cli:>9.2f} {ours / raw:>7.2f}x {ours / cli:>7.2f}x")


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def remove_bench_containers(prefix: str) -> None:
    ids = docker("ps", "-aq", "--filter", f"label={BENCH_LABEL}", "--filter", f"name={prefix}").split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
