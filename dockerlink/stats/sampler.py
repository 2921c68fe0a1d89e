"""Readings for one round, from two sources behind one `Sampler`.

- `CgroupSource`, when the service runs on the engine's host: the kernel's own counters,
  read from the container's cgroup files and its init process's `/proc/<pid>/net/dev`.
  Files stay open between rounds and are re-read with `pread`, so a container costs a few
  system calls and no daemon CPU at all. The limits (memory limit, CFS quota and period)
  change only through the engine (`docker update`, a restart, which makes a new cgroup):
  with the event follower's word (`LimitChanges`) they are read when the files are opened,
  after an `update` of the container, and at least every `limits_every` seconds, not in
  every round (at N = 1000 that is a third of a v1 round's reads).
- `EngineSource`, for a remote engine or a container whose cgroup cannot be read here:
  one-shot stats through the API. Each such call waits for the daemon's shared 1-second
  stats tick, so they are all sent at once (one thread, a connection each: see
  `engine.fanout`), never one after another.

Containers that are not running give an all-zero reading; one that vanishes mid-round is
left out of the round, never an error.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from ..cgroups import (
    CgroupDirs,
    Locator,
    host_memory,
    oom_file,
    oom_kills,
    parse_cpu_max,
    parse_limit,
    parse_net_dev,
    read_file,
    readable_here,
    stat_value,
)
from ..engine import (
    ContainerDetails,
    ContainerSummary,
    Engine,
    EngineAPIError,
    EngineError,
    EngineUnavailable,
    NotFound,
    StatsSnapshot,
)
from .arithmetic import memory_limit, memory_used
from .samples import Reading, stopped

__all__ = [
    "Sampler",
    "CgroupSource",
    "EngineSource",
    "CgroupUnavailable",
    "LimitChanges",
    "SAMPLED_STATES",
    "PRIME_AHEAD",
    "build_sampler",
    "cfs_limit",
]

log = logging.getLogger("dockerlink.stats")

#: States whose counters are read; any other state gives an all-zero reading. A paused
#: container still holds its memory, so it is sampled (its CPU reads 0 by itself).
SAMPLED_STATES = frozenset({"running", "paused"})

#: How long before a round `Sampler.prepare()` runs: dockerd's stats loop then reads next
#: 1 s later, 0.2 s into the round, once the round's calls (sent in its first ms) are in.
PRIME_AHEAD = 0.8

#: µs: the kernel's default CFS period, which dockerd also puts NanoCpus over. Not the
#: panel's own `limits.CPU_PERIOD` (equal today), which only the quotas it sets use.
DEFAULT_CFS_PERIOD = 100_000

Clock = Callable[[], float]
_T = TypeVar("_T")


class ContainersAPI(Protocol):
    """What the cgroup source needs of `engine.containers` (a test double provides the same)."""

    def inspect(self, ref: str) -> ContainerDetails: ...


class StatsAPI(Protocol):
    """What the engine source needs of `engine.containers`."""

    def stats_many(
        self, refs: Sequence[str], *, inspect: Sequence[str] = (), timeout: float = 30.0
    ) -> tuple[list[StatsSnapshot | EngineError], list[ContainerDetails | EngineError]]: ...


class LimitChanges(Protocol):
    """What the cgroup source asks the event follower (`collector.ContainerChanges`)."""

    def limits_unchanged_since(self, container_id: str, at: float) -> bool: ...


class CgroupUnavailable(Exception):
    """This container's cgroup cannot be read from here: ask the engine instead."""


_CHUNK = 65536


class _Handles:
    """One running container's open files.

    When the container stops or restarts, its cgroup is removed (and made anew): reads of
    the old files then fail (ENODEV), which is how a restart between two rounds is noticed
    and the files reopened for the new init process. A stop also shows in the listing
    (a `die` event), after which the files are closed.
    """

    #: The slots holding a file descriptor (-1 once closed; `period` stays -1 on v2, `pids`
    #: where the pids controller is not there).
    DESCRIPTORS = ("cpu", "usage", "stat", "limit", "quota", "period", "net", "oom", "pids")
    #: The limits as last read (memory limit in bytes, CFS quota, period), when, and when
    #: they are read again at the latest.
    __slots__ = ("version", *DESCRIPTORS, "limits", "limits_read", "limits_due")

    FILES = {
        1: (
            ("cpu", "cpuacct", "cpuacct.usage"),
            ("usage", "memory", "memory.usage_in_bytes"),
            ("stat", "memory", "memory.stat"),
            ("limit", "memory", "memory.limit_in_bytes"),
            ("quota", "cpu", "cpu.cfs_quota_us"),
            ("period", "cpu", "cpu.cfs_period_us"),
        ),
        2: (
            ("cpu", "cpu", "cpu.stat"),
            ("usage", "memory", "memory.current"),
            ("stat", "memory", "memory.stat"),
            ("limit", "memory", "memory.max"),
            ("quota", "cpu", "cpu.max"),
        ),
    }

    def __init__(self, dirs: CgroupDirs, net_dev: str) -> None:
        self.version = dirs.version
        self.period = self.pids = self.oom = -1
        self.limits: tuple[int, int | None, int | None] | None = None
        self.limits_read = self.limits_due = 0.0
        opened: list[int] = []
        try:
            for slot, controller, name in self.FILES[dirs.version]:
                fd = os.open(os.path.join(getattr(dirs, controller), name), os.O_RDONLY)
                opened.append(fd)
                setattr(self, slot, fd)
            self.net = os.open(net_dev, os.O_RDONLY)
            opened.append(self.net)
            # Optional: the OOM-kill counter (an old kernel's v1 has none), the pids file.
            pids = dirs.pids and os.path.join(dirs.pids, "pids.current")
            for slot, path in (("oom", oom_file(dirs)), ("pids", pids)):
                if path:
                    try:
                        fd = os.open(path, os.O_RDONLY)
                        opened.append(fd)
                        setattr(self, slot, fd)
                    except FileNotFoundError:
                        pass  # the pids controller is not enabled there; an old kernel
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise

    def close(self) -> None:
        for slot in self.DESCRIPTORS:
            fd = getattr(self, slot, -1)
            if fd >= 0:
                os.close(fd)
                setattr(self, slot, -1)


class CgroupSource:
    """Counters straight from the kernel, as `docker stats` shows them.

    The container's init pid comes from one `inspect` when it is first seen (or after it
    restarted); from then on a round is only `pread`s of files kept open.
    """

    def __init__(
        self,
        containers: ContainersAPI,
        *,
        root: str = "/",
        clock: Clock = time.time,
        retry_after: float = 300.0,
        changes: LimitChanges | None = None,
        limits_every: float = 60.0,
    ) -> None:
        self._containers = containers
        self._changes = changes
        self._limits_every = limits_every
        self._root = root.rstrip("/")
        self._clock = clock
        self._retry_after = retry_after
        self._handles: dict[str, _Handles] = {}
        self._unreadable: dict[str, float] = {}  # container id -> when to try its cgroup again
        self._locator = Locator(root)
        self.host_memory = host_memory(read_file(self._root + "/proc/meminfo"))
        _raise_open_files_limit()

    def read(self, container_id: str) -> Reading | None:
        """The container's reading; None when it stopped or vanished meanwhile.

        Raises CgroupUnavailable when its cgroup cannot be reached from here.
        """
        handles = self._handles.get(container_id)
        if handles is not None:
            try:
                return self._read(container_id, handles)
            except (OSError, ValueError):
                self._drop(container_id)  # restarted (new cgroup, new pid) or gone: look again
        if self._unreadable.get(container_id, 0.0) > self._clock():
            raise CgroupUnavailable(container_id)
        handles = self._attach(container_id)
        if handles is None:
            return None
        try:
            return self._read(container_id, handles)
        except (OSError, ValueError):
            self._drop(container_id)
            return None

    def retain(self, container_ids: Iterable[str]) -> None:
        """Close the files of every container not in `container_ids` (stopped, removed)."""
        keep = set(container_ids)
        for cid in [c for c in self._handles if c not in keep]:
            self._drop(cid)
        for cid in [c for c in self._unreadable if c not in keep]:
            del self._unreadable[cid]

    def close(self) -> None:
        self.retain(())

    def _attach(self, container_id: str) -> _Handles | None:
        try:
            details = self._containers.inspect(container_id)
        except NotFound:
            return None
        except EngineAPIError as exc:  # the engine answered, but not about this one: let it try again
            raise CgroupUnavailable(container_id) from exc
        if not details.running or details.pid <= 0:
            return None
        try:
            handles = self._open(container_id, details)
        except (OSError, CgroupUnavailable) as exc:
            # Another pid namespace, an unmounted controller, no permission, no descriptor left.
            log.info("cgroup of container %s unreadable here (%s); using the engine API", container_id[:12], exc)
            self._unreadable[container_id] = self._clock() + self._retry_after
            raise CgroupUnavailable(container_id) from None
        self._handles[container_id] = handles
        return handles

    def _open(self, container_id: str, details: ContainerDetails) -> _Handles:
        """The container's files, found through the mount table the locator read at the
        first container. Should they not be found or opened that way, the table is read
        again (something was mounted or unmounted since) before the container is given up on."""
        proc = f"{self._root}/proc/{details.pid}"
        try:
            dirs = self._locator.locate(details.pid, details.id)
            if dirs is not None:
                return _Handles(dirs, proc + "/net/dev")
        except OSError:
            pass
        dirs = self._locator.locate(details.pid, details.id, fresh=True)
        if dirs is None:
            raise CgroupUnavailable(container_id)
        return _Handles(dirs, proc + "/net/dev")

    def _drop(self, container_id: str) -> None:
        handles = self._handles.pop(container_id, None)
        if handles is not None:
            handles.close()

    def _read(self, container_id: str, h: _Handles) -> Reading:
        # The hot path of a round: 6 preads of open files (each regenerated by the kernel:
        # a read at offset 0 restarts it), 8 or 9 when the limits are due, and little else.
        at = self._clock()
        pread = os.pread
        stat = pread(h.stat, _CHUNK, 0)
        usage = int(pread(h.usage, 64, 0))
        if h.version == 1:
            cpu_ns = int(pread(h.cpu, 64, 0))
            inactive = stat_value(stat, b"total_inactive_file")
        else:
            cpu_ns = stat_value(pread(h.cpu, _CHUNK, 0), b"usage_usec") * 1000
            inactive = stat_value(stat, b"inactive_file")
        rx, tx = parse_net_dev(pread(h.net, _CHUNK, 0))
        kills = oom_kills(pread(h.oom, 4096, 0)) if h.oom >= 0 else 0
        pids = int(pread(h.pids, 64, 0)) if h.pids >= 0 else 0
        limits = h.limits
        if limits is None or at >= h.limits_due or not self._limits_kept(container_id, h.limits_read):
            limits = h.limits = self._read_limits(h)
            # Due again within `limits_every`, each container at its own point of it: a
            # fleet started together is not re-read all in one round.
            h.limits_read, h.limits_due = at, at + self._limits_every * (0.5 + (hash(container_id) % 512) / 1024)
        limit, quota, period = limits
        used = memory_used(usage, inactive)
        return Reading(container_id, at, True, cpu_ns, used, limit, quota, period, rx, tx, pids, kills)

    def _limits_kept(self, container_id: str, since: float) -> bool:
        """Whether the limits read at `since` still hold: the follower saw the whole stream
        since then and no `update` of the container in it."""
        return self._changes is not None and self._changes.limits_unchanged_since(container_id, since)

    def _read_limits(self, h: _Handles) -> tuple[int, int | None, int | None]:
        """(memory limit in bytes, the host's when unlimited; CFS quota or None; period)."""
        pread = os.pread
        if h.version == 1:
            quota, period = parse_limit(pread(h.quota, 64, 0)), int(pread(h.period, 64, 0))
        else:
            quota, period = parse_cpu_max(pread(h.quota, 64, 0))
        return memory_limit(parse_limit(pread(h.limit, 64, 0)), self.host_memory), quota, period


def _raise_open_files_limit() -> None:
    """Each sampled container keeps 6 or 7 files open: lift the soft limit to the hard one."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
    except (ValueError, OSError):
        pass


class EngineSource:
    """One-shot stats for many containers at once, and now and then an inspect for the CPU
    quota (stats do not carry it), all in one fan-out from this thread.

    dockerd serves stats from one loop: take the containers someone waits for, read them one
    after another, sleep 1 s, again; with nobody waiting it parks. The first call of a round
    wakes a parked loop at once and is read alone, so every other call waits out the second
    of sleep that follows: 1 s + N reads. `prepare()`, run `PRIME_AHEAD` s before the round,
    wakes the loop with one call instead, so its next read falls just after the round's calls
    arrive (bench/stats_round.py, N = 200 on 2 cores: 2.0 s a round without, 1.1 s with).

    The quota is kept `limits_ttl` seconds: an inspect per container and round would double
    the calls, and on 2 cores the collector's own CPU for 200 calls adds to the round's
    wall time. A CPU limit changed in the meantime shows within that delay; the memory
    limit comes with the stats, live.
    """

    def __init__(self, containers: StatsAPI, *, limits_ttl: float = 60.0, clock: Clock = time.monotonic) -> None:
        self._containers = containers
        self._limits_ttl = limits_ttl
        self._clock = clock
        self._limits: dict[str, tuple[float, int | None, int | None]] = {}  # id -> (when, quota, period)
        self._pilot: str | None = None  # a container of the last round, to wake the loop with

    def prepare(self) -> None:
        """Wake dockerd's stats loop with one call, in the background (a round with a
        single container needs no waking: its call is read the moment it arrives)."""
        pilot = self._pilot
        if pilot is not None:
            threading.Thread(target=self._wake, args=(pilot,), name="dockerlink-stats-wake", daemon=True).start()

    def _wake(self, pilot: str) -> None:
        [result], _ = self._containers.stats_many([pilot], timeout=5.0)
        if isinstance(result, EngineError):
            log.debug("waking the engine's stats loop with %s: %s", pilot[:12], result)

    def read_many(self, container_ids: Sequence[str]) -> list[Reading]:
        self._pilot = container_ids[0] if len(container_ids) >= 2 else None
        for gone in self._limits.keys() - set(container_ids):
            del self._limits[gone]
        if not container_ids:
            return []
        now = self._clock()
        stale = [c for c in container_ids if now - self._limits.get(c, (-math.inf,))[0] >= self._limits_ttl]
        stats, details = self._containers.stats_many(container_ids, inspect=stale)
        for container_id, d in zip(stale, details, strict=True):
            d = _usable(container_id, d)
            if d is None or not d.running:
                self._limits.pop(container_id, None)  # gone or stopped: no reading this round
            else:
                self._limits[container_id] = (now, *cfs_limit(d))
        readings = []
        for container_id, s in zip(container_ids, stats, strict=True):
            snapshot, limits = _usable(container_id, s), self._limits.get(container_id)
            if snapshot is not None and snapshot.running and limits is not None:
                readings.append(_engine_reading(container_id, snapshot, limits[1], limits[2]))
        return readings

    def close(self) -> None:
        """Nothing is held between rounds (each round opens and closes its connections)."""


def _usable(container_id: str, result: _T | EngineError) -> _T | None:
    """A result, or None when the container is gone or in an odd state; an engine that did
    not answer fails the round."""
    if isinstance(result, EngineUnavailable):
        raise result
    if isinstance(result, NotFound):
        return None
    if isinstance(result, EngineError):
        # One container in an odd state must not cost the others their round.
        log.warning("stats of container %s unavailable: %s", container_id[:12], result)
        return None
    return result


def cfs_limit(details: ContainerDetails) -> tuple[int | None, int | None]:
    """CFS quota and period from HostConfig (NanoCpus means a quota over 100 ms); (None, None)
    when unlimited."""
    if details.cpu_quota > 0:
        return details.cpu_quota, details.cpu_period or DEFAULT_CFS_PERIOD
    if details.nano_cpus > 0:
        return details.nano_cpus * DEFAULT_CFS_PERIOD // 1_000_000_000, DEFAULT_CFS_PERIOD
    return None, None


def _engine_reading(container_id: str, s: StatsSnapshot, quota: int | None, period: int | None) -> Reading:
    return Reading(
        container_id,
        s.read_at or 0.0,
        True,
        cpu_ns=s.cpu_total_ns,
        memory_used=s.memory_used,
        memory_limit=s.memory_limit,
        cpu_quota=quota,
        cpu_period=period,
        net_rx=s.net_rx,
        net_tx=s.net_tx,
        pids=s.pids,
    )


class Sampler:
    """A round's readings: the cgroup source where it can read, the engine for the rest."""

    def __init__(
        self, engine_source: EngineSource, cgroup_source: CgroupSource | None = None, clock: Clock = time.time
    ) -> None:
        self.engine_source = engine_source
        self.cgroup_source = cgroup_source
        self._clock = clock

    def sample(self, containers: Sequence[ContainerSummary]) -> list[Reading]:
        readings: list[Reading] = []
        by_engine: list[str] = []
        running: list[str] = []
        for c in containers:
            if c.state not in SAMPLED_STATES:
                readings.append(stopped(c.id, self._clock()))
                continue
            running.append(c.id)
            if self.cgroup_source is None:
                by_engine.append(c.id)
                continue
            try:
                reading = self.cgroup_source.read(c.id)
            except CgroupUnavailable:
                by_engine.append(c.id)
                continue
            if reading is not None:
                readings.append(reading)
        if self.cgroup_source is not None:
            self.cgroup_source.retain(running)
        readings.extend(self.engine_source.read_many(by_engine))  # also when empty: it forgets the last round
        return readings

    def prepare(self) -> None:
        """Called `PRIME_AHEAD` s before a round: readies the engine source's calls."""
        self.engine_source.prepare()

    def close(self) -> None:
        if self.cgroup_source is not None:
            self.cgroup_source.close()
        self.engine_source.close()


def build_sampler(engine: Engine, *, root: str = "/", changes: LimitChanges | None = None) -> Sampler:
    """The cgroup path when the engine is on this host (a unix socket) and cgroups are
    mounted here; the engine API otherwise, or for any container whose cgroup is hidden.
    `changes`: the follower's word on containers' `update`s (limits then read only when due)."""
    engine_source = EngineSource(engine.containers)
    cgroup_source = None
    if readable_here(engine.address, root):
        cgroup_source = CgroupSource(engine.containers, root=root, changes=changes)
    return Sampler(engine_source, cgroup_source)
