"""Concurrent load on a running dockerlink: a mix of list, get, stats and git head.

Used by bench/load.py (the full minute) and by the suite's short load test (a few
seconds, asserting no errors and no fd growth — never timings). Only loopback traffic.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

__all__ = ["LoadResult", "run_load", "process_tree", "open_fds", "rss_bytes", "prepare_sites"]


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    by_status: dict[int, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # latencies per kind of request
    shed: dict[str, int] = field(default_factory=dict)  # path -> 429s honoured (Retry-After waited)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        return _percentile(self.latencies_ms, p)


def _percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _kind(path: str, params: dict) -> str:
    return f"{path}?id" if path == "/v1/container" and params else path


#: The request mix: one entry per kind; a client picks among them at random.
_MIX: list[tuple[str, dict]] = [
    ("/v1/container", {}),
    ("/v1/container", {"id": "{id}"}),
    ("/v1/container/stats", {"id": "{id}", "since": "0"}),
    ("/v1/git/head", {"id": "{id}"}),
]


def run_load(
    url: str, ids: Sequence[str], clients: int, seconds: float, token: str | None = None, seed: int = 7
) -> LoadResult:
    """`clients` threads, each with its own keep-alive session, for `seconds`; counts as an
    error every answer that is not 200 and every failed connection, except a 429 with
    Retry-After: a well-behaved client waits as told (counted in `shed`, per path)."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(seed + n)
        session = requests.Session()
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        local: list[float] = []
        kinds: dict[str, list[float]] = {}
        statuses: dict[int, int] = {}
        errors: list[str] = []
        shed: dict[str, int] = {}
        while time.monotonic() < deadline:
            path, params = rng.choice(_MIX)
            cid = rng.choice(ids)
            query = {k: v.format(id=cid) for k, v in params.items()}
            t0 = time.perf_counter()
            try:
                r = session.get(url + path, params=query, timeout=60)
                status = r.status_code
                if status == 429 and r.headers.get("Retry-After", "").isdigit():
                    shed[path] = shed.get(path, 0) + 1
                    time.sleep(min(int(r.headers["Retry-After"]), 5))
                elif status != 200:
                    errors.append(f"{status} {path} {r.text[:120].strip()}")
            except requests.RequestException as exc:
                status = 0
                errors.append(f"{path}: {exc}")
            local.append((time.perf_counter() - t0) * 1000)
            kinds.setdefault(_kind(path, params), []).append(local[-1])
            statuses[status] = statuses.get(status, 0) + 1
        session.close()
        with lock:
            result.latencies_ms.extend(local)
            result.requests += len(local)
            result.errors += len(errors)
            result.error_samples.extend(errors[:3])
            for kind, values in kinds.items():
                result.by_kind.setdefault(kind, []).extend(values)
            for s, c in statuses.items():
                result.by_status[s] = result.by_status.get(s, 0) + c
            for p, c in shed.items():
                result.shed[p] = result.shed.get(p, 0) + c

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.monotonic() - t0
    return result


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (gunicorn master, workers, the collector)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def open_fds(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def rss_bytes(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def prepare_sites(
    service_url: str, engine, names: Sequence[str], root_base: int, token: str | None = None
) -> list[str]:  # noqa: ANN001
    """Create and start one site per name through the API, each with a one-commit repository
    (port areas 500 apart: run the service with port_area_size=500); returns once every site
    runs its sshd."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    ids = []
    for i, name in enumerate(names):
        body = {"name": name, "host_port_root": root_base + i * 500, "memory": 0.0625, "cpulimit": 0.1}
        r = session.put(f"{service_url}/v1/container", params={"start": "true"}, json=body, timeout=60)
        if r.status_code != 200:
            raise RuntimeError(f"creating {name}: {r.status_code} {r.text.strip()}")
        ids.append(r.json()["Id"])
    script = (
        "cd /var/www/html && git init -q && git -c safe.directory='*' -c user.name=load -c user.email=load@localhost "
        "commit -q --allow-empty -m load"
    )
    for cid in ids:
        engine.execs.run(cid, ["sh", "-c", script])
    # Steady state: a new site first makes its ssh host keys, which at a 0.1-CPU limit takes
    # seconds; a load started meanwhile measures that start-up, not the service.
    deadline = time.monotonic() + 180
    waiting = list(ids)
    while waiting:
        waiting = [cid for cid in waiting if engine.execs.run(cid, ["pgrep", "-x", "sshd"]).exit_code != 0]
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} sites did not start sshd within 180 s")
        time.sleep(0.5 if waiting else 0)
    return ids


def summary(result: LoadResult) -> str:
    lat = result.latencies_ms
    return (
        f"{result.requests} requests in {result.seconds:.1f} s = {result.rate:.0f} req/s; "
        f"p50 {result.percentile(50):.1f} ms, p99 {result.percentile(99):.1f} ms, "
        f"mean {statistics.fmean(lat) if lat else 0:.1f} ms; errors {result.errors}; statuses {result.by_status}"
    ) + "".join(
        f"\n  {kind:<22} {len(v):>6} requests; p50 {_percentile(v, 50):.1f} ms, p99 {_percentile(v, 99):.1f} ms"
        for kind, v in sorted(result.by_kind.items())
    )
