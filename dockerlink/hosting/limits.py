"""Memory and CPU limits: the panel speaks GiB and cores, the engine bytes and CFS quota.

Memory is a hard limit (MemorySwap = Memory: no swap on top). CPU is always a CFS quota
over a fixed period, never NanoCpus, since the engine refuses to switch between the two on
an update. `0` means no limit, as in the original (the panels' forms allow it). Values the
engine would refuse or mishandle (between 0 and its minimum, negatives) are refused here.

How an update removes a limit, seen on this engine: `CpuQuota: -1` removes the CPU limit
(`0` means "unchanged"); a memory limit cannot be removed (`Memory: -1` is refused with
"Minimum memory limit allowed is 6MB", `Memory: 0` leaves it unchanged), so the nearest
thing, the host's whole memory, is set instead.
"""

from __future__ import annotations

import math
from typing import Any

from ..config import Config
from ..errors import InvalidInput

__all__ = [
    "host_protection",
    "CPU_PERIOD",
    "MIN_MEMORY",
    "NO_CPU_LIMIT",
    "UNLIMITED",
    "memory_bytes",
    "cpu_quota",
    "cpu_warning",
    "memory_warning",
]

GIB = 1 << 30
#: The engine refuses less ("Minimum memory limit allowed is 6MB").
MIN_MEMORY = 6 << 20
MAX_MEMORY = 1 << 50
CPU_PERIOD = 100_000
MIN_CPU = 0.01
#: Any bound will do below the engine's int64 quota; no host has more cores.
MAX_CPU = 1 << 16
#: `memory_bytes` / `cpu_quota` of a `0`: no limit.
UNLIMITED = 0
#: The CpuQuota that removes a CPU limit on an update (0 there means "unchanged").
NO_CPU_LIMIT = -1


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"expected a number, got {type(value).__name__}")
    try:
        number = float(value)  # a JSON integer can be beyond any float
    except OverflowError:
        raise InvalidInput(field, "out of range") from None
    if not math.isfinite(number):
        raise InvalidInput(field, "expected a finite number")
    return number


def memory_bytes(value: object) -> int:
    """GiB (decimal allowed) to bytes: 0 (no limit), or at least 6 MiB."""
    gib = _number("memory", value)
    if gib == 0:
        return UNLIMITED
    if gib > MAX_MEMORY / GIB:  # before multiplying: a large finite float times GIB is inf
        raise InvalidInput("memory", f"too large: {value} GiB")
    size = round(gib * GIB) if gib > 0 else -1
    if size < MIN_MEMORY:
        raise InvalidInput("memory", f"must be 0 (no limit) or at least 0.0056 GiB (6 MiB), got {value}")
    return size


def cpu_quota(value: object) -> int:
    """Cores (decimal allowed) to a CFS quota over CPU_PERIOD: 0 (no limit), or at least 0.01."""
    cores = _number("cpulimit", value)
    if cores == 0:
        return UNLIMITED
    if cores < MIN_CPU:
        raise InvalidInput("cpulimit", f"must be 0 (no limit) or at least {MIN_CPU} cores, got {value}")
    if cores > MAX_CPU:
        raise InvalidInput("cpulimit", f"too large: {value}")
    return round(cores * CPU_PERIOD)


def cpu_warning(quota: int, host_cpus: int) -> str | None:
    """A quota above the host's cores is accepted; it limits nothing beyond them."""
    if host_cpus and quota > host_cpus * CPU_PERIOD:
        return (
            f"cpulimit {quota / CPU_PERIOD:g} is above this host's {host_cpus} cores: "
            f"it limits nothing beyond {host_cpus} cores"
        )
    return None


def memory_warning(host_memory: int) -> str:
    """Said when `memory: 0` on an update sets the host's memory (see the module docstring)."""
    return (
        f"memory 0: the engine cannot remove a memory limit from an existing container; "
        f"set to the host's total memory ({host_memory / GIB:.2f} GiB) instead"
    )


def host_protection(config: Config) -> dict[str, Any]:
    """ContainerSpec fields that keep one site from filling the host's process table or
    disk: a pids limit (0 = none) and json-file logs rotated at `log_max_size` ×
    `log_max_files`. An update (resize) leaves both as they are."""
    return {
        "pids_limit": config.pids_limit or None,
        "log_driver": "json-file",
        "log_options": {"max-size": config.log_max_size, "max-file": str(config.log_max_files)},
    }
