"""The cgroup's OOM-kill counter: the kernel counts every process its OOM killer took in a
container's memory cgroup, also one that was not the container's main process (the site's
php-fpm under sshd as PID 1), which the engine may never report.

v2: `oom_kill N` in `memory.events` (hierarchical); v1: `oom_kill N` in
`memory.oom_control` (kernel 4.13 and later). The counter starts at 0 with each cgroup,
that is each start of the container.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..cgroups import CgroupDirs, locate_in, read_file, read_mounts, stat_value
from ..engine import ContainerDetails, ContainerSummary, EngineError
from ..ownership import LABEL

__all__ = ["oom_kills", "OomWatch", "OomCount"]

log = logging.getLogger("dockerlink.events")


def oom_kills(dirs: CgroupDirs, read: Callable[[str], bytes]) -> int:
    """The cgroup's OOM-kill count (0 when the kernel does not keep one)."""
    name = "memory.events" if dirs.version == 2 else "memory.oom_control"
    return stat_value(read(os.path.join(dirs.memory, name)), b"oom_kill")


class Containers(Protocol):
    def list(self, all: bool = True, filters: dict[str, list[str]] | None = None) -> list[ContainerSummary]: ...

    def inspect(self, ref: str) -> ContainerDetails: ...


@dataclass(frozen=True)
class OomCount:
    container_id: str
    name: str
    started_at: int | None  # which life of the container the count belongs to
    count: int


class OomWatch:
    """Reads the OOM-kill counter of each running dockerlink container on this host."""

    def __init__(self, containers: Containers, *, root: str = "/", read: Callable[[str], bytes] = read_file) -> None:
        self._containers = containers
        self._root = root.rstrip("/")
        self._read = read
        self._dirs: dict[str, tuple[int | None, str, CgroupDirs]] = {}  # id -> (started_at, name, dirs)

    def counts(self) -> list[OomCount]:
        running = self._containers.list(all=False, filters={"label": [LABEL]})
        alive = {c.id for c in running}
        for cid in list(self._dirs):
            if cid not in alive:
                del self._dirs[cid]
        found = []
        for c in running:
            entry = self._dirs.get(c.id) or self._locate(c.id)
            if entry is None:
                continue
            started_at, name, dirs = entry
            try:
                count = oom_kills(dirs, self._read)
            except (OSError, ValueError):
                self._dirs.pop(c.id, None)  # restarted (a new cgroup) or gone: locate again next time
                continue
            found.append(OomCount(c.id, name, started_at, count))
        return found

    def _locate(self, container_id: str) -> tuple[int | None, str, CgroupDirs] | None:
        try:
            details = self._containers.inspect(container_id)
            if not details.pid:
                return None
            proc = self._read(f"{self._root}/proc/{details.pid}/cgroup").decode()
            mounts = read_mounts(self._root, self._read)
        except (EngineError, OSError):
            return None
        dirs = locate_in(proc, mounts, container_id)
        if dirs is None:
            return None
        entry = (details.started_at, details.name, dirs)
        self._dirs[container_id] = entry
        return entry
