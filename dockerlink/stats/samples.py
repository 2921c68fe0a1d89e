"""What the sampler reads (`Reading`: raw cumulative counters) and what the store keeps
(`Sample`: one point of history), and `derive()`, the pure step from one to the other."""

from __future__ import annotations

from typing import NamedTuple

from .arithmetic import counter_delta, cpu_limit_percent, cpu_percent

__all__ = ["Reading", "Sample", "derive", "stopped"]


class Reading(NamedTuple):
    """One container's counters at `read_at` (unix seconds), as the kernel or engine gave them."""

    container_id: str
    read_at: float
    running: bool
    cpu_ns: int = 0  # cumulative CPU time
    memory_used: int = 0  # bytes, page cache excluded
    memory_limit: int = 0  # bytes
    cpu_quota: int | None = None  # CFS quota and period, same unit; None = unlimited
    cpu_period: int | None = None
    net_rx: int = 0  # bytes received since the container started, all interfaces but lo
    net_tx: int = 0  # bytes sent
    pids: int = 0  # processes now
    oom_kills: int = 0  # processes the OOM killer took since the container started (cgroup files only)


def stopped(container_id: str, read_at: float) -> Reading:
    """The all-zero reading of a container that is not running (docs/contract.md §3.2: zeros, limits included)."""
    return Reading(container_id, read_at, running=False)


class Sample(NamedTuple):
    """One point of a container's history; bytes and percent, converted only for output.

    Named tuples, not dataclasses: a week of history is ~2500 of them per query, and a
    tuple is built from a database row at C speed."""

    ts: float
    cpu_percent: float
    cpu_limit: float | None  # percent of one core; None = unlimited
    memory_used: float
    memory_limit: float
    net_up: int
    net_down: int
    delta_up: int
    delta_down: int


def derive(previous: Reading | None, current: Reading, ts: float) -> Sample:
    """The sample at `ts` from a container's reading and the one before it.

    Without a previous reading (a container seen for the first time) CPU % and the net
    deltas are 0: there is nothing to measure them against.
    """
    if not current.running:
        return Sample(ts, 0.0, 0.0, 0, 0, 0, 0, 0, 0)
    if previous is None:
        cpu = 0.0
        delta_up = delta_down = 0
    else:
        cpu = cpu_percent(previous.cpu_ns, current.cpu_ns, previous.read_at, current.read_at)
        delta_up = counter_delta(previous.net_tx, current.net_tx)
        delta_down = counter_delta(previous.net_rx, current.net_rx)
    return Sample(
        ts=ts,
        cpu_percent=cpu,
        cpu_limit=cpu_limit_percent(current.cpu_quota, current.cpu_period),
        memory_used=current.memory_used,
        memory_limit=current.memory_limit,
        net_up=current.net_tx,
        net_down=current.net_rx,
        delta_up=delta_up,
        delta_down=delta_down,
    )
