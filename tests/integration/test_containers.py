"""End to end: the panel's container calls through a real gunicorn against a real dockerd."""

from __future__ import annotations

import socket
import time

import pytest

from dockerlink.engine import NotFound

GIB = 1 << 30


def wait_for_ssh_banner(port: int, deadline_s: float = 30) -> bytes:
    """sshd makes its host keys on first start: poll until it greets (or give up)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                data = s.recv(64)
                if data:
                    return data
        except OSError:
            pass
        time.sleep(0.2)
    return b""


@pytest.fixture
def site(service, engine, unique_name):
    """A created (not started) hosting container at root 20000; removed after, volume too."""
    r = service.request(
        "PUT",
        "/v1/container",
        json={"name": unique_name, "host_port_root": 20000, "memory": 0.25, "cpulimit": 0.5, "ports": ["4000/udp"]},
    )
    assert r.status_code == 200, r.text
    yield r.json()["Id"]
    service.request("DELETE", "/v1/container", params={"id": r.json()["Id"], "volumes": "true"})


def test_create_sets_limits_ports_volume_and_restart_policy_in_the_engine(site, engine, unique_name):
    d = engine.containers.inspect(site)
    assert d.name == unique_name and d.state == "created"
    assert d.memory == d.memory_swap == GIB // 4
    assert (d.cpu_period, d.cpu_quota, d.nano_cpus) == (100000, 50000, 0)
    assert d.restart_policy == "unless-stopped"
    assert d.volumes == {"/var/www": f"dockerlink-{unique_name}-www"}
    assert d.working_dir == "/var/www/html"
    assert {(b.key, b.host_ip, b.host_port) for b in d.port_bindings} == {
        ("22/tcp", "127.0.0.1", 20022),
        ("80/tcp", "127.0.0.1", 20080),
        ("443/tcp", "127.0.0.1", 20443),
        ("4000/udp", "127.0.0.1", 24000),
        ("4200/tcp", "127.0.0.1", 20000),  # the web terminal, loopback only
    }
    assert set(d.exposed_ports) >= {"22/tcp", "80/tcp", "443/tcp", "4000/udp"}
    assert d.labels["dockerlink.host_port_root"] == d.labels["ports"] == "20000"


def test_started_site_answers_ssh_on_root_plus_22_and_is_listed_running(site, service):
    assert service.request("POST", "/v1/container/start", params={"id": site}).status_code == 204
    assert wait_for_ssh_banner(20022).startswith(b"SSH-2.0-")
    listed = service.get("/v1/container", params={"running": "true"}).json()["success"]
    assert listed[site]["state"] == "running"
    assert listed[site]["host_port_root"] == 20000
    assert isinstance(listed[site]["started_at"], int)


def test_each_site_gets_its_own_ssh_host_key(service, engine, unique_name, site):
    other = service.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={"name": unique_name + "-b", "host_port_root": 25000, "memory": 0.25, "cpulimit": 0.5},
    ).json()["Id"]
    try:
        service.request("POST", "/v1/container/start", params={"id": site})
        keys = []
        for cid in (site, other):
            for _ in range(100):
                r = engine.execs.run(cid, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
                if r.exit_code == 0:
                    break
                time.sleep(0.2)
            keys.append(r.stdout)
        assert keys[0] and keys[1] and keys[0] != keys[1]
    finally:
        service.request("DELETE", "/v1/container", params={"id": other, "volumes": "true"})


def test_resize_up_and_down_applies_live_to_a_running_site(site, service, engine):
    service.request("POST", "/v1/container/start", params={"id": site})
    r = service.request("PATCH", "/v1/container", params={"id": site}, json={"memory": 1, "cpulimit": 1.5})
    assert r.status_code == 200 and r.json() == {"warning": []}
    d = engine.containers.inspect(site)
    assert (d.memory, d.memory_swap, d.cpu_quota) == (GIB, GIB, 150000)
    r = service.request("PATCH", "/v1/container", params={"id": site}, json={"memory": 0.125})
    assert r.status_code == 200
    d = engine.containers.inspect(site)
    assert (d.memory, d.memory_swap, d.cpu_quota, d.running) == (GIB // 8, GIB // 8, 150000, True)


def test_resize_below_what_the_site_uses_is_409(site, service, engine):
    service.request("POST", "/v1/container/start", params={"id": site})
    fill = engine.execs.run(site, ["sh", "-c", "head -c 50000000 /dev/zero > /dev/shm/fill && echo ok"])
    assert fill.stdout == b"ok\n"
    r = service.request("PATCH", "/v1/container", params={"id": site}, json={"memory": 0.01})
    assert r.status_code == 409, r.text
    assert engine.containers.inspect(site).memory == GIB // 4


def test_start_stop_restart_are_idempotent(site, service, engine):
    for action in ("start", "start", "restart", "restart", "stop", "stop"):
        r = service.request(
            "POST", f"/v1/container/{action}", params={"id": site, **({} if action == "start" else {"t": "1"})}
        )
        assert r.status_code == 204, (action, r.text)
    assert not engine.containers.inspect(site).running


def test_delete_removes_the_site_volume_unless_asked_to_keep_it(service, engine, unique_name):
    body = {"name": unique_name, "host_port_root": 30000, "memory": 0.25, "cpulimit": 0.5}
    cid = service.request("PUT", "/v1/container", params={"start": "true"}, json=body).json()["Id"]
    engine.execs.run(cid, ["sh", "-c", "echo keep-me > /var/www/html/index.html"])
    assert service.request("DELETE", "/v1/container", params={"id": cid, "deletevolume": "false"}).status_code == 204
    with pytest.raises(NotFound):
        engine.containers.inspect(cid)
    volume = f"dockerlink-{unique_name}-www"
    assert engine.volumes.inspect(volume).name == volume
    # Re-creating the site under the same name finds its files again.
    cid = service.request("PUT", "/v1/container", params={"start": "true"}, json=body).json()["Id"]
    assert engine.execs.run(cid, ["cat", "/var/www/html/index.html"]).stdout == b"keep-me\n"
    assert service.request("DELETE", "/v1/container", params={"id": cid}).status_code == 204
    with pytest.raises(NotFound):
        engine.volumes.inspect(volume)


def test_an_overlapping_port_area_is_409_naming_the_other_site(site, service, unique_name):
    r = service.request(
        "PUT",
        "/v1/container",
        json={"name": unique_name + "-o", "host_port_root": 24999, "memory": 0.25, "cpulimit": 0.5},
    )
    assert r.status_code == 409 and unique_name in r.text


def test_a_host_port_taken_by_another_process_is_409_naming_it(service, engine, unique_name):
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", 10080))
        blocker.listen()
        r = service.request(
            "PUT",
            "/v1/container",
            params={"start": "true"},
            json={"name": unique_name, "host_port_root": 10000, "memory": 0.25, "cpulimit": 0.5},
        )
    assert r.status_code == 409, r.text
    assert "10080" in r.text
    with pytest.raises(NotFound):
        engine.containers.inspect(unique_name)


def test_a_path_injected_id_never_reaches_another_container(site, service, engine):
    victim = engine.containers.inspect(site)
    for bad in (f"x/../{victim.name}", f"..%2F{victim.name}", f"{victim.name}/..", ".."):
        r = service.request("DELETE", "/v1/container", params={"id": bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
    assert engine.containers.inspect(site).id == victim.id


def test_a_container_dockerlink_did_not_create_is_listed_but_read_only(service, engine, unique_name, base_image):
    from dockerlink.engine import ContainerSpec

    cid, _ = engine.containers.create(
        ContainerSpec(image=base_image, labels={"dockerlink.test": "1"}), name=unique_name
    )
    r = service.get("/v1/container", params={"id": unique_name})
    assert r.json()["success"][unique_name]["dockerlink"] == "not_dockerlink"
    assert service.request("POST", "/v1/container/start", params={"id": cid}).status_code == 403
    assert service.request("DELETE", "/v1/container", params={"id": cid}).status_code == 403
    assert engine.containers.inspect(cid).state == "created"


_CGROUP_LIMITS = (
    "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us; "
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
)


def cgroup_limits(engine, cid: str) -> tuple[int | None, int | None]:
    """(CPU quota in µs per 100 ms, memory bytes) as the kernel enforces them; None: no limit."""
    out = engine.execs.run(cid, ["sh", "-c", _CGROUP_LIMITS]).stdout.decode().split("\n")
    cpu, memory = out[0].split()[0], out[1].strip()
    return (
        None if cpu in ("max", "-1") else int(cpu),
        None if memory == "max" or int(memory) >= 1 << 62 else int(memory),
    )


def test_zero_limits_mean_no_limit_on_create_and_on_resize_in_the_cgroup(service, engine, unique_name):
    """0 = no limit, as the original. An update removes the CPU limit (CpuQuota -1); the engine
    cannot remove a memory limit, so memory 0 sets the host's memory, with a warning."""
    body = {"name": unique_name, "host_port_root": 45000, "memory": 0, "cpulimit": 0}
    r = service.request("PUT", "/v1/container", params={"start": "true"}, json=body)
    assert r.status_code == 200, r.text
    cid = r.json()["Id"]
    try:
        assert cgroup_limits(engine, cid) == (None, None)

        def patch(**limits):
            r = service.request("PATCH", "/v1/container", params={"id": cid}, json=limits)
            assert r.status_code == 200, r.text
            return r.json()["warning"]

        assert patch(cpulimit=0.5) == [] and patch(memory=0.25) == []
        assert cgroup_limits(engine, cid) == (50000, GIB // 4)
        assert patch(cpulimit=0) == []
        assert cgroup_limits(engine, cid) == (None, GIB // 4)
        [warning] = patch(memory=0)
        assert "host's total memory" in warning
        host = engine.system.info()
        cpu, memory = cgroup_limits(engine, cid)
        assert cpu is None and abs(memory - host.memory_total) < 4096  # the kernel rounds to pages
        [warning] = patch(cpulimit=host.cpus + 1)
        assert f"above this host's {host.cpus} cores" in warning
        assert cgroup_limits(engine, cid)[0] == (host.cpus + 1) * 100_000
    finally:
        service.request("DELETE", "/v1/container", params={"id": cid})


def listed_within(service, cid: str, seconds: float, done) -> dict:  # noqa: ANN001
    """The listing's entry for `cid`, polled until `done(entry)` or `seconds` passed."""
    end = time.monotonic() + seconds
    while True:
        entry = service.get("/v1/container").json()["success"][cid]
        if done(entry) or time.monotonic() > end:
            return entry
        time.sleep(0.02)


def test_a_restart_or_rename_behind_dockerlinks_back_shows_in_the_listing_within_a_second(site, service, engine):
    """The full listing's details are cached per worker; the engine's events keep them true."""
    assert service.request("POST", "/v1/container/start", params={"id": site}).status_code == 204
    time.sleep(1.1)  # started_at is in whole seconds: the restart must land in a later one
    for _ in range(6):  # both workers have listed (and cached) the running site
        before = service.get("/v1/container").json()["success"][site]
    engine.containers.restart(site, t=1)  # as `docker restart` would
    after = listed_within(service, site, 1.0, lambda e: e["started_at"] != before["started_at"])
    assert after["state"] == "running" and after["started_at"] > before["started_at"]
    new_name = engine.containers.inspect(site).name + "-renamed"
    engine.transport.request("POST", ["containers", site, "rename"], params={"name": new_name})
    renamed = listed_within(service, site, 1.0, lambda e: e["name"] == "/" + new_name)
    assert renamed["name"] == "/" + new_name
