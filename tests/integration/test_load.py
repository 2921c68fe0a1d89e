"""A short load through gunicorn: no error and no fd growth under concurrency (never timings).

The full minute with 50 clients is bench/load.py."""

from __future__ import annotations

import os
from pathlib import Path

from bench.loadgen import open_fds, prepare_sites, process_tree, run_load
from tests.waiting import until

from .live import live_service

LISTEN = "0A"


def held_connections(port: int) -> int:
    """TCP connections on the service's `port` that a process still holds (an inode: an open
    fd; a closed one left in TIME_WAIT or LAST_ACK has none)."""
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == port and state != LISTEN and inode != "0":
                    held += 1
    return held


def settled_fds(svc) -> tuple[int, dict]:  # noqa: ANN001
    """Open fds of the whole service once the clients' closed keep-alive connections are
    gone on the server side too (each client closed its session at the end of the load)."""
    port = int(svc.url.rsplit(":", 1)[1])
    until(lambda: held_connections(port) == 0, "the service to close the clients' connections", timeout=30)
    pids = process_tree(svc.process.pid)
    return open_fds(pids), {pid: _kinds(pid) for pid in pids}


def _kinds(pid: int) -> dict[str, int]:
    """What a process holds open, by kind, for the failure message."""
    kinds: dict[str, int] = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        kind = target.split(":")[0] if ":[" in target else Path(target).name
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def test_concurrent_mix_answers_without_errors_and_without_fd_growth(engine, tmp_path, unique_name):
    names = [f"{unique_name}-{i}" for i in range(3)]
    # 2 threads per worker: 32 clients keep every thread busy from the first round, so each
    # has opened its engine and SQLite connections before the measurement starts.
    settings = {"publish_ip": "127.0.0.1", "stats_interval": "1", "port_area_size": "500", "DOCKERLINK_THREADS": "2"}
    with live_service(tmp_path, **settings) as svc:
        try:
            ids = prepare_sites(svc.url, engine, names, root_base=4000)
            # Warm-up at the same concurrency: every worker thread opens its connections once,
            # then reuses them (gunicorn starts threads lazily, on demand).
            for _ in range(2):
                warm = run_load(svc.url, ids, clients=32, seconds=4)
                assert warm.errors == 0, warm.error_samples
            before = settled_fds(svc)
            result = run_load(svc.url, ids, clients=32, seconds=4)
            after = settled_fds(svc)
        finally:
            for name in names:
                svc.request("DELETE", "/v1/container", params={"id": name, "volumes": "true"})
    assert result.requests > 0
    assert result.errors == 0, result.error_samples
    # Only git may be shed (429 + Retry-After: its slots are few, by design, with 2 threads a
    # worker); every other request is answered.
    assert set(result.by_status) <= {200, 429}
    assert all(path.startswith("/v1/git") for path in result.shed), result.shed
    grown = {
        (pid, kind): n - before[1].get(pid, {}).get(kind, 0)
        for pid, kinds in after[1].items()
        for kind, n in kinds.items()
        if n != before[1].get(pid, {}).get(kind, 0)
    }
    assert after[0] <= before[0] + 4, (before[0], after[0], grown)
