"""How much room this host has left, for a panel placing sites on several hosts
(`GET /v1/capacity`, docs/contract.md §6.4).

Committed is what the sites' limits promise: each site's CPU and memory limits summed, a
site without a limit counted as the whole host (it may take all of it), stopped sites
included (they start again). Used is the collector's last round, not a fresh sampling: an
answer costs no cgroup read. Disk is that of the file systems holding the engine's volumes
(its `DockerRootDir`, only readable when the engine runs on this host) and `backup_dir`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..engine import ContainerDetails, EngineInfo
from .panel import port_root
from .ports import free_areas

__all__ = ["capacity", "committed", "used", "disk_space"]


class LastRound(Protocol):
    """What capacity needs of the stats store (`StatsStore.latest_round`)."""

    def latest_round(self) -> list[dict[str, Any]]: ...


class Sites(Protocol):
    """What capacity needs of `Hosting`."""

    @property
    def host(self) -> EngineInfo: ...

    def sites(self) -> list[ContainerDetails]: ...


def committed(sites: Iterable[ContainerDetails], host: EngineInfo) -> dict[str, float | int]:
    """The sum of the sites' limits; an unlimited site counts as the host's cores or memory."""
    cores = 0.0
    memory = 0
    for c in sites:
        if c.cpu_quota > 0 and c.cpu_period > 0:
            cores += c.cpu_quota / c.cpu_period
        elif c.nano_cpus > 0:
            cores += c.nano_cpus / 1e9
        else:
            cores += host.cpus
        memory += c.memory if c.memory > 0 else host.memory_total
    return {"cores": round(cores, 3), "memory_bytes": memory}


def used(rows: Iterable[Mapping[str, Any]], site_ids: set[str]) -> dict[str, float | int | None]:
    """The sites' CPU (cores) and memory in the stats store's last round, and its time."""
    cores = 0.0
    memory = 0
    at = None
    for row in rows:
        if row.get("container") not in site_ids:
            continue
        cores += float(row.get("cpu_percent") or 0.0) / 100.0
        memory += int(row.get("mem_used") or 0)
        at = row.get("ts")
    return {"cores": round(cores, 3), "memory_bytes": memory, "at": at}


def disk_space(path: str) -> dict[str, Any]:
    """Total and free bytes (free: what an unprivileged writer may still use) of the file
    system holding `path`; a path not made yet is measured where it would be made."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and probe != os.path.dirname(probe):
        probe = os.path.dirname(probe)
    st = os.statvfs(probe)
    return {"path": path, "total_bytes": st.f_blocks * st.f_frsize, "free_bytes": st.f_bavail * st.f_frsize}


def _volumes_disk(host: EngineInfo, local: bool) -> dict[str, Any]:
    """The engine's data root, measured here only when the engine runs on this host."""
    if not local or not host.root_dir:
        return {"path": host.root_dir or None, "total_bytes": None, "free_bytes": None}
    volumes = os.path.join(host.root_dir, "volumes")
    return disk_space(volumes if os.path.isdir(volumes) else host.root_dir)


def capacity(hosting: Sites, store: LastRound, *, local: bool, backup_dir: str, area_size: int) -> dict[str, Any]:
    """The whole answer of `GET /v1/capacity`."""
    host = hosting.host
    sites = hosting.sites()
    roots = [r for c in sites if (r := port_root(c.labels)) is not None]
    count, lowest = free_areas(roots, area_size)
    return {
        "host": {"cores": host.cpus, "memory_bytes": host.memory_total},
        "sites": {"count": len(sites), "running": sum(1 for c in sites if c.running)},
        "committed": committed(sites, host),
        "used": used(store.latest_round(), {c.id for c in sites}),
        "disk": {"volumes": _volumes_disk(host, local), "backups": disk_space(backup_dir)},
        "ports": {"area_size": area_size, "areas_free": count, "lowest_free_root": lowest},
    }
