"""`GET /v1/capacity` against the real engine: every figure checked against what the test
reads itself (the engine's own inspects, /proc/meminfo, os.statvfs).

Port areas of this module: roots 61000 and 61500 with port_area_size 500 (61000–61999)."""

from __future__ import annotations

import os

import pytest

from dockerlink.engine import NotFound

from .live import live_service, wait_until

GIB = 1 << 30
AREA = 500
ROOTS = (61000, 61500)


@pytest.fixture(scope="module")
def cservice(engine, tmp_path_factory):
    with live_service(tmp_path_factory.mktemp("capacity"), stats_interval="1", port_area_size=str(AREA)) as s:
        yield s


def _host() -> tuple[int, int]:
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return len(os.sched_getaffinity(0)), kib * 1024


def _sites(engine) -> dict[str, dict]:  # noqa: ANN001
    """Every dockerlink container on the engine, inspected raw (other sessions' too)."""
    listed = engine.transport.request(
        "GET", ["containers", "json"], params={"all": "1", "filters": '{"label": ["dockerlink"]}'}
    ).json()
    out = {}
    for c in listed:
        try:
            out[c["Id"]] = engine.transport.request("GET", ["containers", c["Id"], "json"]).json()
        except NotFound:  # removed since the list
            pass
    return out


def _expected_commitment(sites: dict[str, dict], cores: int, memory: int) -> tuple[float, int]:
    want_cores, want_memory = 0.0, 0
    for c in sites.values():
        h = c["HostConfig"]
        if h.get("CpuQuota", 0) > 0:
            want_cores += h["CpuQuota"] / h["CpuPeriod"]
        elif h.get("NanoCpus", 0) > 0:
            want_cores += h["NanoCpus"] / 1e9
        else:
            want_cores += cores
        want_memory += h["Memory"] if h.get("Memory", 0) > 0 else memory
    return want_cores, want_memory


def _steady_capacity(service, engine) -> tuple[dict, dict[str, dict]]:  # noqa: ANN001
    """An answer taken while no other session's site came or went (the engine is shared)."""

    def attempt():  # noqa: ANN202
        before = _sites(engine)
        r = service.get("/v1/capacity")
        assert r.status_code == 200, r.text
        after = _sites(engine)
        same = before.keys() == after.keys() and all(
            (before[i]["HostConfig"], before[i]["State"]["Running"])
            == (after[i]["HostConfig"], after[i]["State"]["Running"])
            for i in before
        )
        return (r.json(), after) if same else None

    return wait_until(attempt, 60, "a moment without other sessions' sites changing")


def test_capacity_adds_up_what_the_engine_and_the_host_say(cservice, engine, unique_name):
    cores, memory = _host()
    made = []
    for i, (root, mem, cpu) in enumerate(((ROOTS[0], 0.25, 0.5), (ROOTS[1], 0, 0))):  # the second unlimited
        body = {"name": f"{unique_name}-{i}", "host_port_root": root, "memory": mem, "cpulimit": cpu}
        r = cservice.request("PUT", "/v1/container", params={"start": "true" if i == 0 else "false"}, json=body)
        assert r.status_code == 200, r.text
        made.append(r.json()["Id"])

    got, sites = _steady_capacity(cservice, engine)
    assert set(made) <= set(sites)
    assert got["host"] == {"cores": cores, "memory_bytes": memory}
    assert got["sites"] == {"count": len(sites), "running": sum(1 for c in sites.values() if c["State"]["Running"])}
    want_cores, want_memory = _expected_commitment(sites, cores, memory)
    assert got["committed"]["cores"] == pytest.approx(want_cores, abs=1e-3)
    assert got["committed"]["memory_bytes"] == want_memory
    # ours alone: 0.5 core + a whole host, a quarter GiB + a whole host
    ours_cores, ours_memory = _expected_commitment({i: sites[i] for i in made}, cores, memory)
    assert (ours_cores, ours_memory) == (0.5 + cores, GIB // 4 + memory)

    info = engine.transport.request("GET", ["info"]).json()
    volumes = os.path.join(info["DockerRootDir"], "volumes")
    st = os.statvfs(volumes)
    assert got["disk"]["volumes"]["path"] == volumes
    assert got["disk"]["volumes"]["total_bytes"] == st.f_blocks * st.f_frsize
    assert abs(got["disk"]["volumes"]["free_bytes"] - st.f_bavail * st.f_frsize) < 512 << 20  # a shared disk
    st = os.statvfs(os.path.dirname(cservice.env["backup_dir"]))  # the same file system, made or not
    assert got["disk"]["backups"]["total_bytes"] == st.f_blocks * st.f_frsize

    roots = [int(c["Config"]["Labels"].get("dockerlink.host_port_root") or 0) for c in sites.values()]
    lowest = got["ports"]["lowest_free_root"]
    assert all(not (lowest < r + AREA and r < lowest + AREA) for r in roots if r)  # free indeed
    assert all(any(c < r + AREA and r < c + AREA for r in roots if r) for c in range(1024, lowest))  # the lowest

    # used: the collector's last round, once it has sampled the running site
    def sampled():  # noqa: ANN202
        u = cservice.get("/v1/capacity").json()["used"]
        return u if u["at"] is not None and u["memory_bytes"] > 0 else None

    used = wait_until(sampled, 60, "a stats round with the running site")
    assert 0 < used["memory_bytes"] < memory and 0 <= used["cores"] <= cores
