import pytest

from dockerlink.cgroups import (
    host_memory,
    locate,
    parse_cpu_max,
    parse_limit,
    parse_mountinfo,
    parse_net_dev,
    parse_proc_cgroup,
    stat_value,
)

from .trees import DATA, V1_ID, V1_PID, net_dev

ID = "c" * 64
V1_MOUNTINFO = (DATA / "cgroup_v1/proc/self/mountinfo").read_text()
V1_PROC_CGROUP = (DATA / f"cgroup_v1/proc/{V1_PID}/cgroup").read_text()


def test_recorded_v1_host_with_one_hierarchy_per_controller():
    dirs = locate(V1_PROC_CGROUP, V1_MOUNTINFO, V1_ID)
    assert dirs.version == 1
    assert dirs.cpuacct == f"/sys/fs/cgroup/cpuacct/docker/{V1_ID}"
    assert dirs.cpu == f"/sys/fs/cgroup/cpu/docker/{V1_ID}"
    assert dirs.memory == f"/sys/fs/cgroup/memory/docker/{V1_ID}"


def test_v1_systemd_driver_with_cpu_and_cpuacct_mounted_together():
    scope = f"/system.slice/docker-{ID}.scope"
    mountinfo = (
        "33 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    )
    dirs = locate(f"12:memory:{scope}\n4:cpu,cpuacct:{scope}\n0::{scope}\n", mountinfo, ID)
    assert dirs.version == 1
    assert dirs.cpu == dirs.cpuacct == f"/sys/fs/cgroup/cpu,cpuacct{scope}"
    assert dirs.memory == f"/sys/fs/cgroup/memory{scope}"


def test_v2_unified_hierarchy():
    mountinfo = "26 23 0:24 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
    dirs = locate(f"0::/system.slice/docker-{ID}.scope\n", mountinfo, ID)
    assert dirs.version == 2
    assert dirs.memory == dirs.cpu == f"/sys/fs/cgroup/system.slice/docker-{ID}.scope"


def test_a_hybrid_host_reads_the_v1_controllers_not_the_empty_v2_tree():
    dirs = locate(V1_PROC_CGROUP, V1_MOUNTINFO, V1_ID)
    assert "unified" not in dirs.memory


def test_a_mount_of_a_sub_hierarchy_maps_paths_below_its_root():
    # e.g. inside a cgroup namespace, or a bind mount of part of the tree
    mountinfo = "40 31 0:38 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    dirs = locate(f"0::/kubepods/docker-{ID}\n", mountinfo, ID)
    assert dirs.memory == f"/sys/fs/cgroup/docker-{ID}"


def test_a_cgroup_outside_the_mounted_part_is_unreachable():
    mountinfo = "40 31 0:38 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    assert locate(f"0::/other/docker-{ID}\n", mountinfo, ID) is None


def test_a_pid_whose_cgroup_does_not_name_the_container_is_refused():
    # a pid seen from another pid namespace belongs to some other process
    assert locate("4:memory:/user.slice\n2:cpuacct:/user.slice\n1:cpu:/user.slice\n", V1_MOUNTINFO, ID) is None


def test_an_unmounted_controller_makes_the_cgroup_unreachable():
    only_memory = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    assert locate(V1_PROC_CGROUP, only_memory, V1_ID) is None


def test_mountinfo_keeps_only_cgroup_mounts_and_unescapes_paths():
    mounts = parse_mountinfo(
        "22 27 0:21 / /proc rw - proc proc rw\n41 31 0:38 / /sys/fs/my\\040cgroups rw - cgroup2 cgroup2 rw\n"
    )
    assert [(m.mountpoint, m.fstype) for m in mounts] == [("/sys/fs/my cgroups", "cgroup2")]


def test_proc_cgroup_maps_each_controller_and_the_unified_path():
    paths = parse_proc_cgroup("4:cpu,cpuacct:/a\n3:memory:/b\n0::/c\n")
    assert paths == {"cpu": "/a", "cpuacct": "/a", "memory": "/b", "": "/c"}


def test_stat_value_finds_a_key_anywhere_and_not_a_key_it_merely_ends():
    text = b"inactive_file 5\ntotal_inactive_file 8003584\nactive_file 7"
    assert stat_value(text, b"inactive_file") == 5
    assert stat_value(text, b"total_inactive_file") == 8003584
    assert stat_value(text, b"active_file") == 7
    assert stat_value(text, b"swap") == 0


@pytest.mark.parametrize(
    ("raw", "expected"), [(b"67108864\n", 67108864), (b"max\n", None), (b"-1\n", None), (b"50000", 50000)]
)
def test_limits_read_max_and_negative_as_unlimited(raw, expected):
    assert parse_limit(raw) == expected


def test_cpu_max_is_quota_and_period():
    assert parse_cpu_max(b"150000 100000\n") == (150000, 100000)
    assert parse_cpu_max(b"max 100000\n") == (None, 100000)


def test_net_dev_sums_every_interface_but_loopback():
    assert parse_net_dev(net_dev(rx0=1000, tx0=2000, rx1=24, tx1=48).encode()) == (1024, 2048)


def test_net_dev_of_a_container_with_only_loopback_is_zero():
    text = (DATA / f"cgroup_v1/proc/{V1_PID}/net/dev").read_bytes()
    lo_only = b"\n".join(line for line in text.split(b"\n") if b"eth0" not in line)
    assert parse_net_dev(lo_only) == (0, 0)


def test_host_memory_reads_memtotal_in_bytes():
    assert host_memory(b"MemTotal:       24684092 kB\nMemFree: 1 kB\n") == 25_276_510_208


def test_the_locator_reads_the_mount_table_once_and_again_when_a_container_is_not_found_through_it(tmp_path):
    from dockerlink.cgroups import Locator, read_file

    from .trees import make_v2

    root = tmp_path / "host"
    first, second = "1" * 64, "2" * 64
    make_v2(root, first, 101)
    reads: list[str] = []

    def read(path: str) -> bytes:
        reads.append(path)
        return read_file(path)

    locator = Locator(str(root), read)
    dirs = locator.locate(101, first)
    assert dirs is not None and dirs.version == 2
    assert dirs.memory == f"{root}/sys/fs/cgroup/system.slice/docker-{first}.scope"  # as seen from the root
    make_v2(root, second, 202)
    assert locator.locate(202, second) is not None
    assert [p for p in reads if p.endswith("mountinfo")] == [f"{root}/proc/self/mountinfo"]  # read once
    # Not found through the table (a pid of another namespace, say): read again, then given up on.
    (root / "proc/303").mkdir()
    (root / "proc/303/cgroup").write_text(f"0::/system.slice/docker-{'4' * 64}.scope\n")
    assert locator.locate(303, "3" * 64) is None
    assert len([p for p in reads if p.endswith("mountinfo")]) == 2
