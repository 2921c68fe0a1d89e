"""`GET /v1/capacity`: the sums, the free port areas, the disk figures, through the app."""

from __future__ import annotations

import os

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.engine import EngineInfo
from dockerlink.hosting.capacity import committed, disk_space, used
from dockerlink.hosting.ports import free_areas
from tests.fakes import FakeEngine, FakeStore

GIB = 1 << 30
HOST = EngineInfo(cpus=4, memory_total=8 * GIB, cgroup_version="2", cgroup_driver="systemd", root_dir="/x")
OWNED = {"dockerlink": "0.1.0"}


def owned(root: int) -> dict[str, str]:
    return {**OWNED, "dockerlink.host_port_root": str(root)}


@pytest.mark.parametrize(
    ("roots", "size", "expected"),
    [
        ([], 5000, (12, 1024)),  # 1024…65535: 64512 ports, 12 areas of 5000
        ([1024], 5000, (11, 6024)),
        ([10000, 20000], 5000, (10, 1024)),  # 1024–9999 fits one, 15000–19999 one, 25000–65535 eight
        ([60536], 5000, (11, 1024)),  # the highest root a create accepts
        ([5000, 1024], 5000, (11, 10000)),  # 1024–6023 and 5000–9999 overlap (a legacy pair); in any order
        ([10000], 500, (127, 1024)),
    ],
)
def test_free_areas_are_packed_from_each_gap(roots, size, expected):
    assert free_areas(roots, size) == expected


def test_no_area_left():
    roots = list(range(1024, 65536 - 5000 + 1, 5000))  # 12 areas side by side from 1024
    assert free_areas(roots, 5000) == (0, None)


def test_committed_sums_limits_and_counts_an_unlimited_site_as_the_host(tmp_path):
    engine = FakeEngine()
    add = engine.containers.add
    sites = [
        add("a", labels=OWNED, memory=GIB, cpu_quota=150_000, cpu_period=100_000),
        add("b", labels=OWNED, memory=0, cpu_quota=0, cpu_period=0, running=False),  # no limit at all
        add("c", labels=OWNED, memory=GIB // 2, nano_cpus=500_000_000),  # a NanoCpus limit (made elsewhere)
    ]
    assert committed(sites, HOST) == {"cores": 1.5 + 4 + 0.5, "memory_bytes": GIB + 8 * GIB + GIB // 2}


def test_used_sums_the_sites_rows_of_the_last_round_only():
    rows = [
        {"container": "a", "ts": 100.0, "cpu_percent": 50.0, "mem_used": 1000},
        {"container": "b", "ts": 100.0, "cpu_percent": 25.0, "mem_used": 24},
        {"container": "foreign", "ts": 100.0, "cpu_percent": 400.0, "mem_used": 1 << 40},
    ]
    assert used(rows, {"a", "b", "gone"}) == {"cores": 0.75, "memory_bytes": 1024, "at": 100.0}
    assert used([], {"a"}) == {"cores": 0.0, "memory_bytes": 0, "at": None}


def test_disk_space_of_a_path_not_made_yet_is_that_of_its_file_system(tmp_path):
    st = os.statvfs(tmp_path)
    got = disk_space(str(tmp_path / "not" / "yet"))
    assert got["path"] == str(tmp_path / "not" / "yet")
    assert got["total_bytes"] == st.f_blocks * st.f_frsize
    assert abs(got["free_bytes"] - st.f_bavail * st.f_frsize) < 64 << 20


class Host:
    def __init__(self, tmp_path, token: str | None = None) -> None:
        self.engine = FakeEngine()
        (tmp_path / "docker" / "volumes").mkdir(parents=True)
        self.engine.system.root_dir = str(tmp_path / "docker")
        self.store = FakeStore()
        self.config = Config(
            stats_db=str(tmp_path / "stats.sqlite3"),
            create_lock=str(tmp_path / "create.lock"),
            backup_dir=str(tmp_path / "backups"),
            api_token=token,
        )
        self.client = TestClient(create_app(self.config, engine=self.engine, store=self.store))


def test_the_answer_through_the_app(tmp_path):
    host = Host(tmp_path)
    add = host.engine.containers.add
    a = add("a", labels=owned(10000), memory=2 * GIB, cpu_quota=50_000, cpu_period=100_000)
    b = add("b", labels=owned(20000), running=False)  # unlimited, stopped
    add("db", memory=GIB)  # not a site: neither counted nor an area
    host.store.round = [
        {"container": a.id, "ts": 1234.5, "cpu_percent": 30.0, "mem_used": 300 << 20},
        {"container": b.id, "ts": 1234.5, "cpu_percent": 0.0, "mem_used": 0},
    ]
    r = host.client.simulate_get("/v1/capacity")
    assert r.status_code == 200, r.text
    body = r.json
    assert body["host"] == {"cores": 4, "memory_bytes": 8 * GIB}
    assert body["sites"] == {"count": 2, "running": 1}
    assert body["committed"] == {"cores": 4.5, "memory_bytes": 10 * GIB}
    assert body["used"] == {"cores": 0.3, "memory_bytes": 300 << 20, "at": 1234.5}
    assert body["ports"] == {"area_size": 5000, "areas_free": 10, "lowest_free_root": 1024}
    volumes = os.statvfs(tmp_path / "docker" / "volumes")
    assert body["disk"]["volumes"]["path"] == str(tmp_path / "docker" / "volumes")
    assert body["disk"]["volumes"]["total_bytes"] == volumes.f_blocks * volumes.f_frsize
    assert body["disk"]["backups"]["path"] == str(tmp_path / "backups")


def test_a_remote_engine_has_no_volume_disk_figures(tmp_path):
    host = Host(tmp_path)
    host.engine.address = "tcp://10.0.0.1:2376"
    body = host.client.simulate_get("/v1/capacity").json
    assert body["disk"]["volumes"] == {"path": str(tmp_path / "docker"), "total_bytes": None, "free_bytes": None}
    assert body["disk"]["backups"]["total_bytes"] > 0


def test_the_engine_down_is_a_plain_503(tmp_path):
    host = Host(tmp_path)
    host.engine.up = False
    r = host.client.simulate_get("/v1/capacity")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("text/plain") and "Traceback" not in r.text


def test_the_engine_info_carries_its_data_root():
    info = EngineInfo.from_api({"NCPU": 2, "MemTotal": 4 * GIB, "DockerRootDir": "/srv/docker"})
    assert (info.cpus, info.memory_total, info.root_dir) == (2, 4 * GIB, "/srv/docker")
    assert EngineInfo.from_api({}).root_dir == ""
