"""Faults on the real daemon: dockerd restarting under load, the collector killed mid-round,
gunicorn stopped with a git command in flight. Nothing is lost, nothing is left running."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from bench.loadgen import process_tree
from dockerlink.git import GIT_ENV, container_argv

from .dockerd import dockerd_pid, ensure_dockerd, lives_on_its_own
from .live import live_service, wait_until

OTHER_INSTANCE = "another-dockerlink/127.0.0.1:7399"


def engine_answers(engine) -> bool:  # noqa: ANN001
    try:
        return engine.system.ping()
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


def create_site(svc, name: str, root: int) -> str:  # noqa: ANN001
    body = {"name": name, "host_port_root": root, "memory": 0.125, "cpulimit": 0.25}
    r = svc.request("PUT", "/v1/container", params={"start": "true"}, json=body)
    assert r.status_code == 200, r.text
    return r.json()["Id"]


def samples(svc, cid: str) -> dict:  # noqa: ANN001
    r = svc.get("/v1/container/stats", params={"id": cid, "since": "0", "scale": "instant"})
    return r.json() if r.status_code == 200 else {}


@pytest.fixture
def faulty(engine, tmp_path, unique_name):
    with live_service(tmp_path, publish_ip="127.0.0.1", stats_interval="1", port_area_size="500") as svc:
        cid = create_site(svc, unique_name, 2000)
        try:
            yield svc, cid
        finally:
            if not engine_answers(engine):
                ensure_dockerd()
            svc.request("DELETE", "/v1/container", params={"id": cid, "volumes": "true"})


def test_dockerd_restart_under_load_gives_503s_then_recovers_without_a_service_restart(faulty, engine, unique_name):
    svc, cid = faulty
    if os.geteuid() != 0 or dockerd_pid() is None:
        pytest.fail("this test restarts dockerd: it needs root and a dockerd process (scripts/test.sh starts one)")
    wait_until(lambda: len(samples(svc, cid)) >= 2, 30, "two samples before the outage")

    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with requests.Session() as s:
            while not stop.is_set():
                try:
                    statuses.append(s.get(f"{svc.url}/v1/container", params={"id": cid}, timeout=30).status_code)
                except requests.RequestException:
                    statuses.append(-1)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        os.kill(dockerd_pid(), signal.SIGTERM)
        wait_until(lambda: dockerd_pid() is None, 90, "dockerd to exit")
        went_down = time.time()
        for method, path, kw in [
            ("GET", "/v1/container", {}),
            ("GET", "/v1/container", {"params": {"id": cid}}),
            ("PUT", "/v1/container", {"json": {"name": "x1", "host_port_root": 60000, "memory": 1, "cpulimit": 1}}),
            ("PATCH", "/v1/container", {"params": {"id": cid}, "json": {"memory": 1}}),
            ("POST", "/v1/container/stop", {"params": {"id": cid}}),
            ("DELETE", "/v1/container", {"params": {"id": cid}}),
            ("GET", "/v1/container/stats", {"params": {"id": unique_name}}),
            ("GET", "/v1/git/head", {"params": {"id": cid}}),
            ("GET", "/v1/health", {}),
        ]:
            r = svc.request(method, path, **kw)
            assert r.status_code == 503, (method, path, r.status_code, r.text)
            if path != "/v1/health":
                assert r.headers["content-type"].startswith("text/plain")
                assert r.text.count("\n") == 1 and "Traceback" not in r.text
        assert svc.get("/v1/env").status_code == 200  # needs no engine
        # History under a full id is the store's alone: it is served through the outage.
        assert svc.get("/v1/container/stats", params={"id": cid}).status_code == 200
        time.sleep(3)  # the collector meets the outage for a few rounds
        ensure_dockerd()
        came_back = time.time()
        # Started on its own: a signal to this test run's process group cannot reach it.
        assert lives_on_its_own(dockerd_pid())
        wait_until(lambda: svc.get("/v1/health").status_code == 200, 60, "the service to see the engine again")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses and set(statuses) <= {200, 503}, sorted(set(statuses))
    assert 503 in statuses and 200 in statuses
    # The site (restart policy unless-stopped) is back, and so is the collector.
    wait_until(lambda: engine.containers.inspect(cid).running, 60, "the site to be restarted by dockerd")
    wait_until(lambda: any(float(t) > came_back for t in samples(svc, cid)), 60, "a sample after the outage")
    history = samples(svc, cid)
    stamps = sorted(float(t) for t in history)
    assert any(t < went_down for t in stamps), "history before the outage is kept"
    # The outage is a gap, not zeros: no sample was recorded while the engine was away.
    assert not [t for t in stamps if went_down + 1.5 < t < came_back - 1.5]


def collector_pid(svc) -> int | None:  # noqa: ANN001
    for pid in process_tree(svc.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"dockerlink.collector" in cmdline:
            return pid
    return None


def test_collector_killed_mid_round_leaves_an_intact_database_and_is_restarted(faulty):
    svc, cid = faulty
    wait_until(lambda: len(samples(svc, cid)) >= 3, 30, "three samples")
    first = wait_until(lambda: collector_pid(svc), 10, "the collector process")
    kept = set(samples(svc, cid))
    for _ in range(5):  # a few kills at arbitrary points of the 1 s rounds
        pid = collector_pid(svc)
        if pid:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.37)
    second = wait_until(lambda: collector_pid(svc) not in (None, first) and collector_pid(svc), 90, "a new collector")
    assert second != first
    db = sqlite3.connect(svc.env["stats_db"])
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    after = wait_until(lambda: (s := set(samples(svc, cid))) and len(s) > len(kept) and s, 90, "new samples")
    assert kept <= after


def test_sigterm_stops_gunicorn_cleanly_with_no_git_of_its_own_left_running(engine, tmp_path, unique_name):
    """...and a git command of another dockerlink on the same engine keeps running."""
    with live_service(
        tmp_path,
        publish_ip="127.0.0.1",
        stats_interval="1",
        port_area_size="500",
        git_timeout="600",
        DOCKERLINK_GRACEFUL_TIMEOUT="2",
    ) as svc:
        cid = create_site(svc, unique_name, 3000)
        try:
            # The site user's repository; its origin is reached through its own ssh config, whose
            # ProxyCommand never ends (git runs as admin, with admin's HOME).
            script = (
                "mkdir -p -m 700 /var/www/.ssh"
                " && printf 'Host slowhost\\n  ProxyCommand sleep 613\\n' > /var/www/.ssh/config"
                " && chmod 600 /var/www/.ssh/config && cd /var/www/html && git init -q"
                " && git remote add origin slowhost:repo.git"
            )
            assert engine.execs.run(cid, ["sh", "-c", script], user="admin").exit_code == 0

            def hung_pull() -> None:
                try:
                    svc.get("/v1/git", params={"id": cid}, timeout=120)
                except requests.RequestException:
                    pass  # the worker is stopped under it: no answer is the expected end

            def foreign_pull() -> None:
                argv = ["timeout", "-k", "5", "600", *container_argv(OTHER_INSTANCE, "pull")]
                with contextlib.suppress(Exception):  # ends when the container is removed
                    engine.execs.run(cid, argv, env=GIT_ENV, workdir="/var/www/html", user="admin")

            theirs = f"dockerlink.instance={OTHER_INSTANCE}"

            def both_hang() -> bool:
                ps = engine.execs.run(cid, ["ps", "-eo", "args"]).stdout.decode()
                return theirs in ps and ps.count("dockerlink.instance=") > ps.count(theirs)

            for target in (hung_pull, foreign_pull):
                threading.Thread(target=target, daemon=True).start()
            wait_until(both_hang, 30, "both hung pulls")
            collector = wait_until(lambda: collector_pid(svc), 10, "the collector process")
            svc.process.send_signal(signal.SIGTERM)
            assert svc.process.wait(timeout=120) == 0
            assert not Path(f"/proc/{collector}").exists(), "the collector stopped with the service"
            processes = engine.execs.run(cid, ["ps", "-eo", "args"]).stdout.decode()
            assert theirs in processes, processes  # theirs still running...
            assert processes.count("dockerlink.instance=") == processes.count(theirs), processes  # ...ours not
        finally:
            engine.containers.remove(cid, force=True)
            try:
                engine.volumes.remove(f"dockerlink-{unique_name}-www", force=True)
            except Exception:  # noqa: BLE001
                pass
