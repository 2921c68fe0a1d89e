"""Where a container's cgroup lives, and how its files read: parsing of kernel text, and the
few reads of /proc that find it. Below both users: the stats sampler and the events' OOM counter.

The layout is never assumed: `/proc/<pid>/cgroup` says which cgroup the container's init
process is in (per controller on cgroup v1, one path on v2), and `/proc/self/mountinfo`
says where each hierarchy is mounted and from which root (a cgroup namespace or a bind
mount can hide the top). That covers cgroupfs (`/docker/<id>`) and systemd
(`/system.slice/docker-<id>.scope`) drivers alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .engine import socket_path

__all__ = [
    "Mount",
    "CgroupDirs",
    "parse_proc_cgroup",
    "parse_mountinfo",
    "locate",
    "locate_in",
    "stat_value",
    "parse_limit",
    "parse_cpu_max",
    "parse_net_dev",
    "OOM_FILE",
    "oom_file",
    "oom_kills",
    "host_memory",
    "read_file",
    "read_mounts",
    "readable_here",
    "Locator",
]

#: v1 controllers dockerlink reads: cpu time, CFS quota, memory.
V1_CONTROLLERS = ("cpuacct", "cpu", "memory")


@dataclass(frozen=True)
class Mount:
    mountpoint: str
    root: str  # the path of the hierarchy that is mounted there
    fstype: str  # "cgroup" (v1) or "cgroup2"
    controllers: frozenset[str]  # v1 only


@dataclass(frozen=True)
class CgroupDirs:
    """The directories holding one container's files: v1 has one per controller."""

    version: int
    cpuacct: str
    cpu: str
    memory: str
    pids: str | None = None  # None when the pids controller is not mounted (v1)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def parse_mountinfo(text: str) -> list[Mount]:
    """The cgroup mounts of a `/proc/<pid>/mountinfo`."""
    mounts = []
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields, tail = pre.split(), post.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        options = set(tail[2].split(","))
        mounts.append(Mount(_unescape(fields[4]), _unescape(fields[3]), tail[0], frozenset(options)))
    return mounts


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """`/proc/<pid>/cgroup` as controller → path; the v2 (unified) path is under key ""."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _under(mount: Mount, path: str) -> str | None:
    """The directory of cgroup `path` through `mount`, or None when the mount does not show it."""
    root = mount.root.rstrip("/")
    if path != root and not path.startswith(root + "/"):
        return None
    return mount.mountpoint.rstrip("/") + path[len(root) :]


def locate(proc_cgroup: str, mountinfo: str, container_id: str) -> CgroupDirs | None:
    """`locate_in` the cgroup mounts of the text of a `/proc/<pid>/mountinfo`."""
    return locate_in(proc_cgroup, parse_mountinfo(mountinfo), container_id)


def locate_in(proc_cgroup: str, mounts: Sequence[Mount], container_id: str) -> CgroupDirs | None:
    """A container's cgroup directories from its init process's `/proc/<pid>/cgroup`,
    through `mounts` (as `parse_mountinfo` gives them).

    v1 when the memory controller is on a v1 hierarchy (hybrid hosts also mount an empty
    v2 one), else v2. None when a directory cannot be reached from this mount namespace,
    or when the path does not name the container (a pid from another pid namespace).
    """
    paths = parse_proc_cgroup(proc_cgroup)
    if "memory" in paths:
        dirs: dict[str, str] = {}
        for controller in V1_CONTROLLERS:
            path = paths.get(controller)
            if path is None or container_id not in path:
                return None
            found = next(
                (d for m in mounts if m.fstype == "cgroup" and controller in m.controllers if (d := _under(m, path))),
                None,
            )
            if found is None:
                return None
            dirs[controller] = found
        pids_path = paths.get("pids")
        pids = None
        if pids_path is not None and container_id in pids_path:
            pids = next(
                (d for m in mounts if m.fstype == "cgroup" and "pids" in m.controllers if (d := _under(m, pids_path))),
                None,
            )
        return CgroupDirs(1, dirs["cpuacct"], dirs["cpu"], dirs["memory"], pids)
    path = paths.get("")
    if path is None or container_id not in path:
        return None
    found = next((d for m in mounts if m.fstype == "cgroup2" if (d := _under(m, path))), None)
    return None if found is None else CgroupDirs(2, found, found, found, found)


def stat_value(text: bytes, key: bytes) -> int:
    """The value of `key` in a `memory.stat` / `cpu.stat` style file (`key value` lines); 0 if absent."""
    prefix = key + b" "
    if text.startswith(prefix):
        start = len(prefix)
    else:
        at = text.find(b"\n" + prefix)
        if at < 0:
            return 0
        start = at + 1 + len(prefix)
    end = text.find(b"\n", start)
    return int(text[start:end] if end >= 0 else text[start:])


#: Where the kernel counts a memory cgroup's OOM kills (an `oom_kill N` line): every process
#: its OOM killer took there, also one that was not the container's main process. v1 has the
#: line from kernel 4.13 on; the counter starts at 0 with each cgroup (each start).
OOM_FILE = {1: "memory.oom_control", 2: "memory.events"}


def oom_file(dirs: CgroupDirs) -> str:
    """The file holding the container's OOM-kill counter."""
    return os.path.join(dirs.memory, OOM_FILE[dirs.version])


def oom_kills(text: bytes) -> int:
    """The OOM-kill count in the text of `oom_file` (0 when the kernel keeps none)."""
    return stat_value(text, b"oom_kill")


def parse_limit(text: bytes) -> int | None:
    """A limit file (`memory.limit_in_bytes`, `memory.max`, `cpu.cfs_quota_us`); None for
    `max` or a negative value (unlimited)."""
    if text.startswith(b"max"):
        return None
    value = int(text)
    return value if value >= 0 else None


def parse_cpu_max(text: bytes) -> tuple[int | None, int]:
    """cgroup v2 `cpu.max`: `"<quota|max> <period>"` → (quota or None, period)."""
    quota, _, period = text.strip().partition(b" ")
    return parse_limit(quota), int(period or b"100000")


def parse_net_dev(text: bytes) -> tuple[int, int]:
    """`/proc/<pid>/net/dev` → (received, sent) bytes summed over every interface but `lo`."""
    rx = tx = 0
    for line in text.split(b"\n")[2:]:
        name, sep, counters = line.partition(b":")
        if sep and name.strip() != b"lo":
            fields = counters.split()
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx


def host_memory(meminfo: bytes) -> int:
    """`MemTotal` of `/proc/meminfo`, in bytes."""
    for line in meminfo.split(b"\n"):
        if line.startswith(b"MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_mounts(root: str, read: Callable[[str], bytes] = read_file) -> list[Mount]:
    """The cgroup mounts of this mount namespace (`root` without its trailing slash)."""
    return parse_mountinfo(read(root + "/proc/self/mountinfo").decode())


def readable_here(address: str, root: str = "/") -> bool:
    """Whether containers' cgroups can be read here: the engine is on this host (a unix
    socket) and this mount namespace shows a cgroup hierarchy."""
    if socket_path(address) is None:
        return False
    try:
        return bool(read_mounts(root.rstrip("/")))
    except OSError:
        return False


class Locator:
    """Finds containers' cgroup directories (as seen from `root`) from their init pid,
    through this mount namespace's table: read at the first container (parsing it is ~2 ms
    on a busy host), and again only when asked for `fresh` (something was mounted or
    unmounted since). Used by the stats sampler and the OOM counter alike."""

    def __init__(self, root: str = "/", read: Callable[[str], bytes] = read_file) -> None:
        self._root = root.rstrip("/")
        self._read = read
        self._mounts: list[Mount] | None = None

    def locate(self, pid: int, container_id: str, *, fresh: bool = False) -> CgroupDirs | None:
        """The directories of `container_id`, whose init process is `pid`; None when they
        cannot be reached from here. Raises OSError when the process is gone."""
        proc_cgroup = self._read(f"{self._root}/proc/{pid}/cgroup").decode()
        if self._mounts is not None and not fresh:
            dirs = locate_in(proc_cgroup, self._mounts, container_id)
            if dirs is not None:
                return self._rooted(dirs)
        self._mounts = read_mounts(self._root, self._read)
        dirs = locate_in(proc_cgroup, self._mounts, container_id)
        return None if dirs is None else self._rooted(dirs)

    def _rooted(self, dirs: CgroupDirs) -> CgroupDirs:
        if not self._root:
            return dirs
        root = self._root
        return CgroupDirs(
            dirs.version,
            root + dirs.cpuacct,
            root + dirs.cpu,
            root + dirs.memory,
            pids=dirs.pids and root + dirs.pids,
        )
