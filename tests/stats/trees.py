"""Fake host file trees for the cgroup source, and a fake engine's container API.

`copy_v1` copies the tree recorded on a cgroup v1 host (data/cgroup_v1); the v2 and the
systemd-driver v1 trees are written here from the kernel's documented formats.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dockerlink.engine import ContainerDetails, ContainerSummary, EngineError, NotFound, StatsSnapshot
from dockerlink.stats.samples import Sample

DATA = Path(__file__).parent / "data"

V1_ID = "f2860715824fd54eff70889b49cc19049e294abe5841de08188df82ee9864c7e"
V1_PID = 30452
V1_MEMORY = f"sys/fs/cgroup/memory/docker/{V1_ID}"
V1_CPUACCT = f"sys/fs/cgroup/cpuacct/docker/{V1_ID}"
V1_CPU = f"sys/fs/cgroup/cpu/docker/{V1_ID}"

# The kernel's two header lines, as recorded, then loopback (never counted) and two NICs.
_HEADER = "".join((DATA / f"cgroup_v1/proc/{V1_PID}/net/dev").read_text().splitlines(keepends=True)[:2])
NET_DEV = (
    _HEADER
    + "    lo: 999999    10    0    0    0     0          0         0 999999    10    0    0    0     0       0    0\n"
    + "  eth0: {rx0}     5    0    0    0     0          0         0 {tx0}     3    0    0    0     0       0    0\n"
    + "  eth1: {rx1}     5    0    0    0     0          0         0 {tx1}     3    0    0    0     0       0    0\n"
)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def net_dev(rx0: int = 0, tx0: int = 0, rx1: int = 0, tx1: int = 0) -> str:
    return NET_DEV.format(rx0=rx0, tx0=tx0, rx1=rx1, tx1=tx1)


def copy_v1(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    shutil.copytree(DATA / "cgroup_v1", root)
    return root


def make_v2(
    root: Path, container_id: str, pid: int, *, cpu_max: str = "150000 100000", memory_max: str = "max"
) -> Path:
    """A cgroup v2 host with the systemd driver (`system.slice/docker-<id>.scope`)."""
    write(
        root / "proc/self/mountinfo",
        "22 1 0:21 / /proc rw,relatime - proc proc rw\n"
        "26 23 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n",
    )
    write(root / "proc/meminfo", "MemTotal:        2048000 kB\nMemFree:         1024000 kB\n")
    write(root / f"proc/{pid}/cgroup", f"0::/system.slice/docker-{container_id}.scope\n")
    write(root / f"proc/{pid}/net/dev", net_dev(rx0=1000, tx0=2000, rx1=24, tx1=48))
    scope = root / f"sys/fs/cgroup/system.slice/docker-{container_id}.scope"
    write(
        scope / "cpu.stat",
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"
        "nr_periods 10\nnr_throttled 2\nthrottled_usec 1000\n",
    )
    write(scope / "memory.current", "10485760\n")
    write(
        scope / "memory.stat",
        "anon 1048576\nfile 9437184\nkernel_stack 16384\nactive_anon 0\ninactive_anon 1048576\n"
        "active_file 1048576\ninactive_file 8388608\nunevictable 0\n",
    )
    write(scope / "memory.max", memory_max + "\n")
    write(scope / "cpu.max", cpu_max + "\n")
    write(scope / "cgroup.procs", f"{pid}\n{pid + 8}\n")
    return scope


def make_v1_systemd(root: Path, container_id: str, pid: int) -> Path:
    """A cgroup v1 host with the systemd driver and `cpu,cpuacct` mounted together."""
    write(
        root / "proc/self/mountinfo",
        "30 25 0:26 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "33 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
    )
    write(root / "proc/meminfo", "MemTotal:        4096000 kB\n")
    scope = f"/system.slice/docker-{container_id}.scope"
    write(
        root / f"proc/{pid}/cgroup",
        f"12:memory:{scope}\n4:cpu,cpuacct:{scope}\n1:name=systemd:{scope}\n0::{scope}\n",
    )
    write(root / f"proc/{pid}/net/dev", net_dev(rx0=300, tx0=100))
    cpu = root / f"sys/fs/cgroup/cpu,cpuacct{scope}"
    memory = root / f"sys/fs/cgroup/memory{scope}"
    write(cpu / "cpuacct.usage", "7000000000\n")
    write(cpu / "cpu.cfs_quota_us", "-1\n")
    write(cpu / "cpu.cfs_period_us", "100000\n")
    write(memory / "memory.usage_in_bytes", "5000000\n")
    write(memory / "memory.stat", "cache 4000000\nrss 1000000\ntotal_cache 4000000\ntotal_inactive_file 3000000\n")
    write(memory / "memory.limit_in_bytes", "9223372036854771712\n")
    write(memory / "cgroup.procs", f"{pid}\n")
    return memory


def details(
    container_id: str, pid: int, *, running: bool = True, quota: int = 0, nano_cpus: int = 0
) -> ContainerDetails:
    return ContainerDetails.from_api(
        {
            "Id": container_id,
            "Name": "/site",
            "State": {"Status": "running" if running else "exited", "Running": running, "Pid": pid if running else 0},
            "Config": {"Labels": {"dockerlink": "0.1.0"}},
            "HostConfig": {"CpuQuota": quota, "CpuPeriod": 100000 if quota else 0, "NanoCpus": nano_cpus},
        }
    )


def summary(container_id: str, state: str = "running") -> ContainerSummary:
    return ContainerSummary(
        id=container_id, name=container_id[:8], image="img", state=state, labels={"dockerlink": "t"}
    )


def recorded(name: str) -> dict:
    return json.loads((DATA / "engine" / name).read_text())


class FakeContainers:
    """`engine.containers` for the sampler and collector: inspect, stats and list from dicts."""

    def __init__(self) -> None:
        self.details: dict[str, ContainerDetails] = {}
        self.snapshots: dict[str, StatsSnapshot] = {}
        self.listing: list[ContainerSummary] = []
        self.inspected: list[str] = []
        self.list_filters: list[object] = []

    def inspect(self, ref: str) -> ContainerDetails:
        self.inspected.append(ref)
        if ref not in self.details:
            raise NotFound(404, f"No such container: {ref}")
        return self.details[ref]

    def stats(self, ref: str) -> StatsSnapshot:
        if ref not in self.snapshots:
            raise NotFound(404, f"No such container: {ref}")
        return self.snapshots[ref]

    def stats_many(self, refs, *, inspect=(), timeout=30.0):  # noqa: ANN001, ANN201 - the engine's signature
        """Like the engine's: each item its result or its error (made one after another here;
        the real fan-out is tested over sockets in tests/engine/test_fanout.py)."""
        return [_result(self.stats, r) for r in refs], [_result(self.inspect, r) for r in inspect]

    def list(self, all: bool = True, filters: dict | None = None) -> list[ContainerSummary]:
        self.list_filters.append(filters)
        ids = (filters or {}).get("id")  # the engine's id filter (full ids here)
        return [c for c in self.listing if ids is None or c.id in ids]


def _result(method, ref: str):  # noqa: ANN001, ANN202
    try:
        return method(ref)
    except EngineError as exc:
        return exc


def point(ts: float, **kw) -> Sample:
    """A history point with plausible values; `kw` overrides any of them."""
    values = dict(
        cpu_percent=49.876,
        cpu_limit=50.0,
        memory_used=1_146_880,
        memory_limit=64 * 2**20,
        net_up=1024,
        net_down=3072,
        delta_up=512,
        delta_down=0,
    )
    values.update(kw)
    return Sample(ts, **values)
