"""Memory and CPU limits: the panel speaks GiB and cores, the engine bytes and CFS quota.

Memory is a hard limit (MemorySwap = Memory: no swap on top). CPU is always a CFS quota
over a fixed period, never NanoCpus, since the engine refuses to switch between the two on
an update. Values the engine would refuse or mishandle are refused here first.
"""

from __future__ import annotations

import math

from .errors import InvalidInput

__all__ = ["CPU_PERIOD", "MIN_MEMORY", "memory_bytes", "cpu_quota"]

GIB = 1 << 30
#: The engine refuses less ("Minimum memory limit allowed is 6MB").
MIN_MEMORY = 6 << 20
MAX_MEMORY = 1 << 50
CPU_PERIOD = 100_000
MIN_CPU = 0.01


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidInput(field, "expected a finite number")
    return float(value)


def memory_bytes(value: object) -> int:
    """GiB (decimal allowed) to bytes, at least 6 MiB."""
    gib = _number("memory", value)
    size = round(gib * GIB)
    if size < MIN_MEMORY:
        raise InvalidInput("memory", f"must be at least {MIN_MEMORY / GIB:.4f} GiB (6 MiB), got {value}")
    if size > MAX_MEMORY:
        raise InvalidInput("memory", f"too large: {value} GiB")
    return size


def cpu_quota(value: object, host_cpus: int) -> int:
    """Cores (decimal allowed) to a CFS quota over CPU_PERIOD, between 0.01 and the host's cores."""
    cores = _number("cpulimit", value)
    if cores < MIN_CPU:
        raise InvalidInput("cpulimit", f"must be at least {MIN_CPU} cores, got {value}")
    if host_cpus and cores > host_cpus:
        raise InvalidInput("cpulimit", f"must not exceed the host's {host_cpus} cores, got {value}")
    return round(cores * CPU_PERIOD)
