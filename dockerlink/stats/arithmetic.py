"""The stats formulas as pure functions: plain numbers in, plain numbers out.

Everything here is finite by construction (a zero or negative elapsed time gives 0, a
counter that went backwards gives 0), so no NaN or Infinity ever reaches the JSON encoder.
"""

from __future__ import annotations

import math

from ..engine import memory_used  # one formula for both sources

__all__ = [
    "GIB",
    "KIB",
    "GIB_DECIMALS",
    "KIB_DECIMALS",
    "PERCENT_DECIMALS",
    "counter_delta",
    "cpu_percent",
    "cpu_limit_percent",
    "memory_used",
    "memory_limit",
    "gib",
    "kib",
    "finite",
    "format_ts",
]

GIB = 1 << 30
KIB = 1 << 10
#: Decimals kept in answers: GiB to about a KiB, KiB to about a byte, percent to 0.01.
GIB_DECIMALS = 6
KIB_DECIMALS = 3
PERCENT_DECIMALS = 2


def finite(value: float | None) -> float:
    """`value`, or 0 when it is None, NaN or infinite."""
    if value is None or not math.isfinite(value):
        return 0.0
    return float(value)


def counter_delta(previous: int, current: int) -> int:
    """Growth of a cumulative counter; 0 when it went backwards (the container restarted)."""
    return max(0, current - previous)


def cpu_percent(previous_ns: int, current_ns: int, previous_at: float, current_at: float) -> float:
    """CPU time over wall time between two samples of one container; 100 % = one core.

    Zero or negative elapsed time (two reads in the same instant, a clock stepped back)
    gives 0 rather than a division by zero.
    """
    elapsed = current_at - previous_at
    if not elapsed > 0:
        return 0.0
    return finite(counter_delta(previous_ns, current_ns) / (elapsed * 1e9) * 100.0)


def cpu_limit_percent(quota: int | None, period: int | None) -> float | None:
    """`quota / period × 100` (CFS, in the same unit), or None when unlimited."""
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None
    return quota / period * 100.0


def memory_limit(limit: int | None, host_total: int) -> int:
    """The cgroup limit; an unlimited one (absent, `max`, or above the host's RAM) shows
    the host's total memory, as `docker stats` does."""
    if limit is None or limit <= 0 or (host_total > 0 and limit > host_total):
        return host_total
    return limit


def gib(n_bytes: float) -> float:
    return round(finite(n_bytes) / GIB, GIB_DECIMALS)


def kib(n_bytes: float) -> float:
    return round(finite(n_bytes) / KIB, KIB_DECIMALS)


def format_ts(ts: float) -> str:
    """A sample's key: unix seconds, as an integer when the time is a whole second."""
    ts = round(ts, 3)
    return str(int(ts)) if ts == int(ts) else repr(ts)
