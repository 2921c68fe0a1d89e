"""Bench one host with N sites (default 1000): what must not grow per call with N.

    .venv/bin/python bench/scale.py [N] [--repeat 5] [--ui] [--keep | --remove-fleet]

A real dockerlink under gunicorn (2 workers, its collector, a site network of its own:
`dltest-bench-scale-net`, 10.231.0.0/21, so the shared `dockerlink-sites` bridge never
fills), and N cheap sites made through the engine directly: the base image running
`sleep infinity`, 16 MiB, no network (no veth, no published port, no docker-proxy), with
dockerlink's label so they list, sample and count as sites (no port-area label: the
bench's containers must not take the areas of other services on a shared engine). Each
costs a containerd shim (measured: about 2.5 MiB private, 6 MiB PSS) and a sleep.

Figures, each beside its target (the issue's):
- the full listing `GET /v1/container` (warm) vs the raw socket's list + one inspect each;
- a stats round on the cgroup path, in process (the collector's code, the bench's N) and
  as the service's own collector last reported it (every site on the engine);
- `GET /v1/metrics` through the service;
- RSS of each worker and of the collector (VmRSS, VmHWM);
- creating a site through the service (`PUT ?start=true`) with N sites vs with none, and
  dockerlink's own part of it beside the total (the engine itself slows down with N: a
  start or a remove on an engine with 1000 containers costs more, which no client can
  change): the service's time minus the raw socket's for the same engine work, and the
  worker's time outside engine calls (DOCKERLINK_TIMINGS);
- where a create's and a delete's milliseconds go, step by step, with N vs none (each
  step of the operations and the engine calls inside, medians): what grows with N;
- a create's nginx step (what it adds when `site_domain` is set; the bench's service has
  none) with N sites vs none, in each layout (bench/nginx_sites.py: a scratch nginx), and
  the first create plus that step, with N vs none, against the 1.2x;
- with `--ui`, the operator page's requests per refresh (bench/ui_requests.py, N sites,
  chromium, the tests' fake engine).
Everything it made (name prefix dltest-bench-scale-, label dockerlink.test) is removed at
the end, also after a failure; with `--keep` the N sites stay (dltest-bench-fleet-<i>) and
the next run reuses them, until `--remove-fleet`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_LABEL, median_ms  # noqa: E402
from bench.nginx_sites import measure as nginx_ms  # noqa: E402
from bench.nginx_sites import print_rows as print_nginx_rows  # noqa: E402
from bench.rawsocket import RawEngine  # noqa: E402
from bench.stats_round import NoEngine, Only, followed  # noqa: E402
from dockerlink.engine import ContainerSpec, Engine, EngineError, NotFound  # noqa: E402
from dockerlink.stats.collector import Collector  # noqa: E402
from dockerlink.stats.sampler import CgroupSource, EngineSource, Sampler  # noqa: E402
from dockerlink.stats.store import StatsStore  # noqa: E402
from tests.integration.live import live_service  # noqa: E402

IMAGE = os.environ.get("base_image", "dockerlink/base:latest")
PREFIX = "dltest-bench-scale-"
FLEET = "dltest-bench-fleet-"  # the N sites --keep leaves for the next run
NETWORK = "dltest-bench-scale-net"
SUBNET = "10.231.0.0/21"
AREA = 500
ROOT = 62000  # the bench's own sites (port_area_size 500: 62000-62499)
TOKEN = "bench-scale-token-0123456789"
MIB = 1 << 20

# The targets.
LISTING_VS_RAW = 0.5
ROUND_MS = 50.0
METRICS_MS = 50.0
RSS_MIB = 60.0
CREATE_VS_FIRST = 1.2


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def row(what: str, figure: str, target: str, ok: bool) -> None:
    print(f"{what:<46} {figure:>26}   target {target:<16} {verdict(ok)}")


def make_sites(engine: Engine, n: int, prefix: str) -> list[str]:
    """N cheap running sites named `prefix<i>`; those already there (a kept fleet) are reused."""
    labels = {"dockerlink": "bench", BENCH_LABEL: "1"}
    there = {c.name: c for c in engine.containers.list(all=True) if c.name.startswith(prefix)}

    def one(i: int) -> str:
        name = f"{prefix}{i}"
        if name in there:
            if there[name].state != "running":
                engine.containers.start(there[name].id)
            return there[name].id
        spec = ContainerSpec(
            image=IMAGE, cmd=("sleep", "infinity"), labels=labels, memory=16 * MIB, memory_swap=16 * MIB, network="none"
        )
        cid, _ = engine.containers.create(spec, name=name)
        engine.containers.start(cid)
        return cid

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def remove_fleet(engine: Engine) -> None:
    """The sites `--keep` left (name prefix FLEET)."""
    fleet = [c.id for c in engine.containers.list(all=True) if c.name.startswith(FLEET)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda cid: engine.containers.remove(cid, force=True), fleet))
    print(f"removed the kept fleet: {len(fleet)} containers")


def remove_everything(engine: Engine, run: str) -> None:
    """Every container (with its volumes) this run made, by its name prefix (another run's
    on the same engine are left alone), and the network unless another run still uses it."""
    prefix = f"{PREFIX}{run}-"
    mine = [c.id for c in engine.containers.list(all=True) if c.name.startswith(prefix)]

    def rm(cid: str) -> None:
        try:
            engine.containers.remove(cid, force=True, volumes=True)
        except EngineError:
            pass

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(rm, mine))
    for v in engine.transport.request("GET", ["volumes"]).json().get("Volumes") or []:
        if v["Name"].startswith(f"dockerlink-{prefix}"):
            try:
                engine.volumes.remove(v["Name"], force=True)
            except EngineError:
                pass
    try:
        engine.networks.remove(NETWORK)
    except (NotFound, EngineError):
        pass
    print(f"removed {len(mine)} containers, the bench's volumes and network")


def subnet_is_free(engine: Engine) -> bool:
    for net in engine.transport.request("GET", ["networks"]).json():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet", "").startswith("10.231."):
                return net.get("Name") == NETWORK
    return "10.231." not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout


def processes(master: int) -> dict[str, tuple[float, float]]:
    """RSS and peak RSS (MiB) of each child of the gunicorn master, named worker-<pid> or collector."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != master:
                continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        except (OSError, ValueError, IndexError):
            continue
        name = "collector" if b"dockerlink.collector" in cmdline else f"worker-{pid}"
        out[name] = (int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024)
    return out


class Site:
    """Create (timed) and delete a site through the service."""

    def __init__(self, svc, run: str) -> None:  # noqa: ANN001
        self.svc, self.run, self.count = svc, run, 0
        self.delete_ms: list[float] = []

    def create_ms(self) -> float:
        self.count += 1
        name = f"{PREFIX}{self.run}-s{self.count}"
        body = {"name": name, "host_port_root": ROOT, "memory": 0.25, "cpulimit": 0.5}
        t0 = time.perf_counter()
        r = self.svc.request("PUT", "/v1/container", params={"start": "true"}, json=body)
        ms = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, r.text
        t1 = time.perf_counter()
        d = self.svc.request("DELETE", "/v1/container", params={"id": name})
        self.delete_ms.append((time.perf_counter() - t1) * 1000)
        assert d.status_code == 204, d.text
        return ms


def steps_by_name(timings: Path) -> dict[str, dict[str, float]]:
    """Per request kind (create, delete): the median ms of each step name (a name met twice
    in a request counts once, summed), plus `(whole, in the worker)`, `(engine calls)` and
    `(outside engine calls)`; the file is emptied for the next phase."""
    out: dict[str, dict[str, float]] = {}
    for op, key in (("PUT /v1/container", "create"), ("DELETE /v1/container", "delete")):
        lines = [json.loads(line) for line in timings.read_text().splitlines() if f'"op": "{op}"' in line]
        per_request = []
        for entry in lines:
            steps: dict[str, float] = {}
            for depth, name, ms in entry["steps"]:
                steps[f"{'  ' * depth}{name}"] = steps.get(f"{'  ' * depth}{name}", 0.0) + ms
            engine = sum(ms for _, name, ms in entry["steps"] if name.startswith("engine "))
            steps.update({"(whole, in the worker)": entry["ms"], "(engine calls)": engine})
            steps["(outside engine calls)"] = entry["ms"] - engine
            per_request.append(steps)
        names = dict.fromkeys(n for steps in per_request for n in steps)
        out[key] = {n: statistics.median(steps.get(n, 0.0) for steps in per_request) for n in names}
    timings.write_text("")
    return out


def print_steps(n: int, none: dict[str, dict[str, float]], with_n: dict[str, dict[str, float]]) -> None:
    for key in ("create", "delete"):
        print(f"  {key}: ms per step, medians (none -> with {n}), the worker's own timings")
        for name in dict.fromkeys([*none.get(key, {}), *with_n.get(key, {})]):
            a, b = none.get(key, {}).get(name, 0.0), with_n.get(key, {}).get(name, 0.0)
            grew = f"{b / a:5.2f}x" if a >= 0.5 else ""
            print(f"    {name:<58} {a:>8.1f} -> {b:>8.1f}  {grew}")


def round_seconds(svc, rounds: int = 3) -> float | None:  # noqa: ANN001
    """The median duration of the service's collector's next `rounds` rounds (it notes each)."""
    seen: dict[float, float] = {}
    deadline = time.monotonic() + rounds * 15 + 30
    while len(seen) < rounds and time.monotonic() < deadline:
        text = svc.get("/v1/metrics").text
        took = re.search(r"^dockerlink_collector_round_duration_seconds (\S+)$", text, re.M)
        at = re.search(r"^dockerlink_collector_last_success_timestamp_seconds (\S+)$", text, re.M)
        if took and at:
            seen[float(at[1])] = float(took[1])
        time.sleep(1)
    return statistics.median(seen.values()) if seen else None


def engine_seconds(svc) -> dict[str, float]:  # noqa: ANN001
    """Seconds spent in each engine operation so far, summed over the workers."""
    out: dict[str, float] = {}
    pattern = r'^dockerlink_engine_call_duration_seconds_sum\{operation="([^"]+)"\} (\S+)$'
    for op, value in re.findall(pattern, svc.get("/v1/metrics").text, re.M):
        out[op] = out.get(op, 0.0) + float(value)
    return out


def per_create(before: dict[str, float], after: dict[str, float], creates: int) -> dict[str, float]:
    """Milliseconds per create (and its delete) in each engine operation, the largest first."""
    diff = {op: (after.get(op, 0.0) - before.get(op, 0.0)) * 1000 / creates for op in after}
    return dict(sorted(((op, ms) for op, ms in diff.items() if ms >= 0.5), key=lambda kv: -kv[1]))


def raw_create_ms(raw: RawEngine, run: str, k: int) -> float:
    """The engine's part of a create through the raw socket: volume, container with the
    same four published ports, start (removed after, untimed)."""
    name = f"{PREFIX}{run}-raw{k}"
    ports = [22, 80, 443, 499]
    body = {
        "Image": IMAGE,
        "Cmd": ["sleep", "infinity"],
        "Labels": {BENCH_LABEL: "1"},
        "ExposedPorts": {f"{p}/tcp": {} for p in ports},
        "HostConfig": {
            "PortBindings": {f"{p}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(ROOT + AREA + p)}] for p in ports},
            "Mounts": [{"Type": "volume", "Source": f"dockerlink-{name}-www", "Target": "/var/www"}],
            "NetworkMode": NETWORK,
        },
    }
    t0 = time.perf_counter()
    raw.json("POST", "/volumes/create", {"Name": f"dockerlink-{name}-www"})
    cid = raw.json("POST", "/containers/create", body, query={"name": name})["Id"]
    raw.call("POST", f"/containers/{cid}/start")
    ms = (time.perf_counter() - t0) * 1000
    raw.call("DELETE", f"/containers/{cid}", query={"force": "1", "v": "1"})
    raw.call("DELETE", f"/volumes/dockerlink-{name}-www")
    return ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ui", action="store_true", help="also the operator page's requests (chromium)")
    ap.add_argument("--keep", action="store_true", help=f"keep the N sites ({FLEET}<i>) for next time")
    ap.add_argument("--remove-fleet", action="store_true", help="only remove the sites --keep left")
    args = ap.parse_args()
    n, repeat = args.n, args.repeat
    if args.remove_fleet:
        with Engine() as engine:
            remove_fleet(engine)
        return 0
    sys.stdout.reconfigure(line_buffering=True)  # each figure as soon as it is measured
    # --keep: `python bench/scale.py 1000 --keep` once, then each later run adopts the same
    # 1000 sites in seconds instead of making them (minutes); --remove-fleet at the end.
    engine = Engine()
    if not subnet_is_free(engine):
        print(f"{SUBNET} is taken on this host: edit SUBNET")
        return 2
    run = uuid.uuid4().hex[:6]
    raw = RawEngine()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = {
                "api_token": TOKEN,
                "publish_ip": "127.0.0.1",
                "port_area_size": str(AREA),
                "site_network": NETWORK,
                "site_subnet": SUBNET,
                "stats_interval": "5",
                "DOCKERLINK_TIMINGS": str(Path(tmp) / "timings.jsonl"),
            }
            timings = Path(tmp) / "timings.jsonl"
            with live_service(Path(tmp), **settings) as svc:
                site = Site(svc, run)
                site.create_ms()  # warm-up: the site network, the worker's first engine calls
                site.create_ms()  # and the other worker's

                def creates(raw_from: int) -> tuple[float, float, dict[str, float], dict[str, dict[str, float]], float]:
                    """`repeat` creates and deletes through the service (medians, engine ms
                    by operation, the worker's steps) and as many raw creates."""
                    timings.write_text("")
                    site.delete_ms.clear()
                    before = engine_seconds(svc)
                    made = statistics.median(site.create_ms() for _ in range(repeat))
                    removed = statistics.median(site.delete_ms)
                    ops = per_create(before, engine_seconds(svc), repeat)
                    steps = steps_by_name(timings)
                    raw_ms = statistics.median(raw_create_ms(raw, run, raw_from + k) for k in range(repeat))
                    return made, removed, ops, steps, raw_ms

                first, first_delete, first_ops, first_steps, raw_first = creates(0)

                t0 = time.perf_counter()
                ids = make_sites(engine, n, FLEET if args.keep else f"{PREFIX}{run}-")
                print(f"{n} sites made (or found) and started in {time.perf_counter() - t0:.0f} s")
                raw.close()
                raw = RawEngine(timeout=600)  # the engine closed the idle connection meanwhile

                # the service's collector has sampled them all
                deadline = time.monotonic() + 300
                while svc.get("/v1/metrics").text.count("dockerlink_site_running{") < n:
                    assert time.monotonic() < deadline, "the service's collector never sampled every site"
                    time.sleep(1)

                listed = len(raw.json("GET", "/containers/json", query={"all": "1"}))
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"\n== {n} sites ({listed} containers on the engine in all), medians; load {load}")
                http = requests.Session()
                http.headers["Authorization"] = f"Bearer {TOKEN}"

                def listing() -> None:
                    assert http.get(f"{svc.url}/v1/container").status_code == 200

                def raw_list() -> None:
                    for c in raw.json("GET", "/containers/json", query={"all": "1"}):
                        try:
                            raw.json("GET", f"/containers/{c['Id']}/json")
                        except RuntimeError:  # removed meanwhile (another session's)
                            pass

                def listing_row() -> None:
                    ours = median_ms(listing, repeat, warmup=2)
                    floor = median_ms(raw_list, max(3, repeat // 2))
                    row(
                        "GET /v1/container (warm) vs raw list+inspects",
                        f"{ours:.0f} ms vs {floor:.0f} ms = {ours / floor:.2f}x",
                        f"<= {LISTING_VS_RAW}x",
                        ours / floor <= LISTING_VS_RAW,
                    )

                def metrics_row() -> None:
                    scrape = median_ms(lambda: http.get(f"{svc.url}/v1/metrics").raise_for_status(), repeat * 2, 2)
                    row("GET /v1/metrics", f"{scrape:.1f} ms", f"<= {METRICS_MS:g} ms", scrape <= METRICS_MS)

                def in_process_round(limits_kept: bool) -> tuple[float, float]:
                    """The collector's round in this process: median wall and CPU ms."""
                    changes = followed()  # as the service's follower: the list (and limits) kept
                    source = CgroupSource(engine.containers, changes=changes if limits_kept else None)
                    cgroup = Sampler(EngineSource(NoEngine()), source)
                    with tempfile.TemporaryDirectory() as stmp:
                        store = StatsStore(os.path.join(stmp, "stats.sqlite3"), mmap_bytes=0)
                        collector = Collector(Only(engine, ids), cgroup, store, changes=changes)
                        took = median_ms(collector.collect_once, repeat * 2, warmup=2)
                        cpu = median_ms(collector.collect_once, repeat * 2, warmup=0, clock=time.process_time)
                        store.close()
                    cgroup.close()
                    return took, cpu

                def round_rows() -> None:
                    took, cpu = in_process_round(limits_kept=True)
                    load = os.getloadavg()[0]
                    row(
                        "stats round, cgroup path (bench's N)",
                        f"{took:.1f} ms (CPU {cpu:.1f}, load {load:.0f})",
                        f"<= {ROUND_MS:g} ms",
                        took <= ROUND_MS,
                    )
                    every, every_cpu = in_process_round(limits_kept=False)
                    print(f"  the same, limits read every round (as before): {every:.1f} ms (CPU {every_cpu:.1f})")
                    service_round = round_seconds(svc)
                    if service_round is not None:
                        ms = service_round * 1000
                        sampled = svc.get("/v1/metrics").text.count("dockerlink_site_running{")
                        row(
                            f"  the service's collector ({sampled} sites), last rounds",
                            f"{ms:.1f} ms (load {os.getloadavg()[0]:.0f})",
                            f"<= {ROUND_MS:g} ms",
                            ms <= ROUND_MS,
                        )

                def rss_rows() -> None:
                    for name, (now, peak) in sorted(processes(svc.process.pid).items()):
                        row(f"RSS {name}", f"{now:.0f} MiB (peak {peak:.0f})", f"<= {RSS_MIB:g} MiB", peak <= RSS_MIB)

                def create_rows() -> None:
                    created, deleted, created_ops, created_steps, raw_created = creates(repeat)
                    row(
                        f"create a site: with {n} vs none",
                        f"{created:.0f} ms vs {first:.0f} ms = {created / first:.2f}x",
                        f"<= {CREATE_VS_FIRST}x",
                        created / first <= CREATE_VS_FIRST,
                    )
                    row(
                        f"  the engine's part (raw socket): with {n} vs none",
                        f"{raw_created:.0f} ms vs {raw_first:.0f} ms = {raw_created / raw_first:.2f}x",
                        "",
                        True,
                    )
                    own, own_first = created - raw_created, first - raw_first
                    row(
                        f"  dockerlink's own (service - raw): {n} vs none",
                        f"{own:.0f} ms vs {own_first:.0f} ms = {own / max(own_first, 1):.2f}x",
                        f"<= {CREATE_VS_FIRST}x",
                        own / max(own_first, 1) <= CREATE_VS_FIRST,
                    )
                    outside = created_steps["create"].get("(outside engine calls)", 0.0)
                    outside_first = first_steps["create"].get("(outside engine calls)", 0.0)
                    row(
                        "  the worker outside engine calls",
                        f"{outside:.0f} ms vs {outside_first:.0f} ms = {outside / max(outside_first, 1):.2f}x",
                        f"<= {CREATE_VS_FIRST}x",
                        outside / max(outside_first, 1) <= CREATE_VS_FIRST,
                    )
                    row(
                        f"delete a site: with {n} vs none",
                        f"{deleted:.0f} ms vs {first_delete:.0f} ms = {deleted / first_delete:.2f}x",
                        "",
                        True,
                    )
                    print_steps(n, first_steps, created_steps)
                    print("  engine ms per create+delete, by operation (none -> with N):")
                    for op in dict.fromkeys([*first_ops, *created_ops]):
                        print(f"    {op:<40} {first_ops.get(op, 0):>8.1f} -> {created_ops.get(op, 0):>8.1f}")

                def nginx_row() -> None:
                    figures = nginx_ms(n, repeat)
                    print_nginx_rows(n, figures)
                    for layout, rows in figures.items():
                        none, with_n = rows["add (write, nginx -t, reload)"]
                        a, b = first + with_n, first + none
                        row(
                            f"  first create + nginx ({layout}): {n} vs none",
                            f"{a:.0f} ms vs {b:.0f} ms = {a / b:.2f}x",
                            f"<= {CREATE_VS_FIRST}x",
                            a / b <= CREATE_VS_FIRST,
                        )

                for measure in (metrics_row, round_rows, listing_row, rss_rows, create_rows, nginx_row):
                    try:
                        measure()
                    except Exception as exc:  # noqa: BLE001 - one figure lost must not lose the others
                        print(f"{measure.__name__}: not measured: {exc!r}")
                http.close()
    finally:
        raw.close()
        remove_everything(engine, run)
        engine.close()
    if args.ui:
        ui = Path(__file__).with_name("ui_requests.py")
        subprocess.run([sys.executable, str(ui), str(n), "10", "2"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
