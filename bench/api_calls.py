"""Bench the container API through gunicorn against raw engine calls and the docker CLI.

    .venv/bin/python bench/api_calls.py [--containers 50 200] [--repeat 15]

For each operation it prints the median of: dockerlink over HTTP (a real gunicorn on a
loopback port), the raw engine socket calls that do the same work (http.client), and the
docker CLI commands that do the same work; then the ratios. Needs dockerd and the base
image (scripts/test.sh sets both up). Every container it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_LABEL, median_ms, print_table, remove_bench_containers  # noqa: E402
from bench.rawsocket import RawEngine  # noqa: E402
from dockerlink.access.login import replace_hash  # noqa: E402
from dockerlink.access.sha512crypt import new_salt, sha512_crypt  # noqa: E402
from tests.integration.live import live_service  # noqa: E402

PREFIX = "dltest-bench-api-"
IMAGE = "dockerlink/base:latest"
#: The sites' port area: clear of the integration modules' (below the ephemeral range).
ROOT = 30000
LABEL_FILTER = json.dumps({"label": ["dockerlink"]})


def make_idle_containers(raw: RawEngine, n: int, start_index: int) -> list[str]:
    """Created, not started: listing and inspecting cost the same, and the host stays idle."""
    ids = []
    for i in range(start_index, start_index + n):
        body = {"Image": IMAGE, "Cmd": ["sleep", "infinity"], "Labels": {BENCH_LABEL: "1"}}
        ids.append(raw.json("POST", f"/containers/create?name={PREFIX}{i}", body)["Id"])
    return ids


#: The raw cycle's steps of a create; the others are the delete's.
CREATE_STEPS = ("image", "area check", "volume", "container create", "login", "start")


def create_body(raw: RawEngine, cid: str) -> dict[str, Any]:
    """The create body that makes a container like `cid` (one the service made): its
    config, host config and network, replayed, so the raw path creates the same container."""
    c = raw.json("GET", f"/containers/{cid}/json")
    network = next(iter(c["NetworkSettings"]["Networks"]))
    return {
        **c["Config"],
        "Labels": {**c["Config"]["Labels"], BENCH_LABEL: "1"},
        "HostConfig": c["HostConfig"],
        "NetworkingConfig": {"EndpointsConfig": {network: {}}},
    }


def raw_cycle(raw: RawEngine, name: str, template: dict[str, Any]) -> list[tuple[str, float]]:
    """What the service does for a create (started) and a delete (volumes too), as the
    fewest raw calls, for the same container (`template`, see create_body): each step with
    its ms. The login is the password hash written into /etc/shadow (read, replaced,
    written back); the final backup is the archive of /var/www read whole (the service
    also compresses, hashes and syncs it to disk)."""
    vol = f"dockerlink-{name}-www"
    steps: list[tuple[str, float]] = []

    def timed(step: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        steps.append((step, (time.perf_counter() - t0) * 1000))
        return out

    timed("image", lambda: raw.json("GET", f"/images/{IMAGE}/json"))
    timed("area check", lambda: raw.json("GET", "/containers/json", query={"all": "1", "filters": LABEL_FILTER}))
    timed("volume", lambda: raw.json("POST", "/volumes/create", {"Name": vol}))
    mounts = [{**m, "Source": vol} for m in template["HostConfig"]["Mounts"]]
    body = {**template, "HostConfig": {**template["HostConfig"], "Mounts": mounts}}
    cid = timed("container create", lambda: raw.json("POST", f"/containers/create?name={name}", body)["Id"])
    timed("login", lambda: raw_login(raw, cid))
    timed("start", lambda: raw.call("POST", f"/containers/{cid}/start"))
    timed(
        "final backup (archive read)", lambda: raw.call("GET", f"/containers/{cid}/archive", query={"path": "/var/www"})
    )
    timed("remove (force)", lambda: raw.call("DELETE", f"/containers/{cid}", query={"force": "1"}))
    timed("volume remove", lambda: raw.call("DELETE", f"/volumes/{vol}"))
    return steps


def raw_login(raw: RawEngine, cid: str) -> None:
    with tarfile.open(
        fileobj=io.BytesIO(raw.call("GET", f"/containers/{cid}/archive", query={"path": "/etc/shadow"}))
    ) as t:
        member = t.next()
        text = t.extractfile(member).read().decode()  # type: ignore[union-attr]
    text = replace_hash(text, "admin", sha512_crypt("a bench password", new_salt()), int(time.time() // 86400))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        member.size = len(text)
        t.addfile(member, io.BytesIO(text.encode()))
    raw.call("PUT", f"/containers/{cid}/archive", query={"path": "/etc"}, tar=out.getvalue())


def cli_cycle(name: str, create_ms: list[float], delete_ms: list[float]) -> None:
    """The same with the docker CLI: create, the login copied in, start; copy /var/www out,
    remove, remove the volume."""
    vol = f"dockerlink-{name}-www"
    t0 = time.perf_counter()
    subprocess.run(
        ["docker", "create", "--name", name, "--label", f"{BENCH_LABEL}=1", "-m", "256m",
         "--memory-swap", "256m", "--cpu-period", "100000", "--cpu-quota", "50000",
         "-p", f"127.0.0.1:{ROOT + 22}:22", "-p", f"127.0.0.1:{ROOT + 80}:80", "-p", f"127.0.0.1:{ROOT + 443}:443",
         "-v", f"{vol}:/var/www", "--restart", "unless-stopped", IMAGE],
        check=True, capture_output=True,
    )  # fmt: skip
    shadow = subprocess.run(["docker", "cp", f"{name}:/etc/shadow", "-"], check=True, capture_output=True).stdout
    subprocess.run(["docker", "cp", "-", f"{name}:/etc"], input=shadow, check=True, capture_output=True)
    subprocess.run(["docker", "start", name], check=True, capture_output=True)
    t1 = time.perf_counter()
    subprocess.run(["docker", "cp", f"{name}:/var/www", "-"], check=True, capture_output=True)
    subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    subprocess.run(["docker", "volume", "rm", vol], check=True, capture_output=True)
    create_ms.append((t1 - t0) * 1000)
    delete_ms.append((time.perf_counter() - t1) * 1000)


def read_timings(path: Path) -> dict[str, list[tuple[int, str, float]]]:
    """The service's step timings (`DOCKERLINK_TIMINGS`): per request kind, each step's
    median over the requests of that kind, as (depth, step, ms), plus the whole as depth -1."""
    by_op: dict[str, list[dict]] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        by_op.setdefault(entry["op"], []).append(entry)
    out = {}
    for op, entries in by_op.items():
        shape = [(d, n) for d, n, _ in entries[-1]["steps"]]
        alike = [e for e in entries if [(d, n) for d, n, _ in e["steps"]] == shape]
        rows = [(-1, "(whole request, in the worker)", statistics.median(e["ms"] for e in alike))]
        rows += [(d, n, statistics.median(e["steps"][i][2] for e in alike)) for i, (d, n) in enumerate(shape)]
        out[op] = rows
    return out


def steps_median(runs: list[list[tuple[str, float]]]) -> list[tuple[int, str, float]]:
    return [(0, step, statistics.median(run[i][1] for run in runs)) for i, (step, _) in enumerate(runs[0])]


def print_steps(title: str, rows: list[tuple[int, str, float]]) -> None:
    print(f"\n{title}: where the milliseconds go (medians)")
    for depth, step, ms in rows:
        print(f"  {'  ' * max(depth, 0)}{step:<{50 - 2 * max(depth, 0)}} {ms:>9.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()

    raw = RawEngine()
    counter = itertools.count()
    remove_bench_containers(PREFIX)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            live_service(Path(tmp), publish_ip="127.0.0.1", DOCKERLINK_TIMINGS=str(Path(tmp) / "timings.jsonl")) as svc,
        ):
            timings_file = Path(tmp) / "timings.jsonl"
            http = requests.Session()
            rows = []
            one = make_idle_containers(raw, 1, 0)[0]

            rows.append(
                (
                    "GET /v1/container?id=X",
                    median_ms(lambda: http.get(f"{svc.url}/v1/container", params={"id": one}).json(), args.repeat),
                    median_ms(lambda: raw.json("GET", f"/containers/{one}/json"), args.repeat),
                    median_ms(lambda: subprocess.run(["docker", "inspect", one], capture_output=True), args.repeat),
                )
            )

            have = 1
            for n in sorted(n for n in args.containers if n > 0):  # 0: no listing (a host full of others)
                make_idle_containers(raw, n - have, have)
                have = n

                def raw_list() -> None:
                    for c in raw.json("GET", "/containers/json?all=1"):
                        raw.json("GET", f"/containers/{c['Id']}/json")

                def cli_list() -> None:
                    ids = subprocess.run(["docker", "ps", "-aq"], capture_output=True, text=True).stdout.split()
                    subprocess.run(["docker", "inspect", *ids], capture_output=True)

                reps = max(3, args.repeat // 3)
                rows.append(
                    (
                        f"GET /v1/container (N={n})",
                        median_ms(lambda: http.get(f"{svc.url}/v1/container").json(), reps),
                        median_ms(raw_list, reps),
                        median_ms(cli_list, reps),
                    )
                )

            create_ms, delete_ms, raw_steps = [], [], []

            template: dict[str, Any] = {}

            def api_cycle() -> None:
                name = f"{PREFIX}c{next(counter)}"
                body = {"name": name, "host_port_root": ROOT, "memory": 0.25, "cpulimit": 0.5}
                t0 = time.perf_counter()
                r = http.put(f"{svc.url}/v1/container", params={"start": "true"}, json=body)
                r.raise_for_status()
                t1 = time.perf_counter()
                template.setdefault("body", create_body(raw, r.json()["Id"]))
                http.delete(
                    f"{svc.url}/v1/container", params={"id": r.json()["Id"], "volumes": "true"}
                ).raise_for_status()
                create_ms.append((t1 - t0) * 1000)
                delete_ms.append((time.perf_counter() - t1) * 1000)

            reps = max(3, args.repeat // 3)
            api_cycle()  # warm-up: the first create checks the site network, asks the host's size
            create_ms.clear(), delete_ms.clear()
            timings_file.write_text("")
            raw_cycle(raw, f"{PREFIX}w", template["body"])  # warm-up
            cli_create, cli_delete = [], []
            for _ in range(reps):  # interleaved: a load that drifts weighs on the three alike
                api_cycle()
                raw_steps.append(raw_cycle(raw, f"{PREFIX}c{next(counter)}", template["body"]))
                cli_cycle(f"{PREFIX}c{next(counter)}", cli_create, cli_delete)
            service_steps = read_timings(timings_file)
            raw_create = [sum(ms for step, ms in s if step in CREATE_STEPS) for s in raw_steps]
            raw_delete = [sum(ms for step, ms in s if step not in CREATE_STEPS) for s in raw_steps]
            med = statistics.median
            rows += [
                ("PUT ?start=true (create)", med(create_ms), med(raw_create), med(cli_create)),
                ("DELETE ?volumes=true", med(delete_ms), med(raw_delete), med(cli_delete)),
            ]
            print_table("dockerlink API (gunicorn, 2 gthread workers) vs raw engine socket vs docker CLI", rows)
            print_steps("dockerlink, PUT /v1/container?start=true", service_steps.get("PUT /v1/container", []))
            print_steps("dockerlink, DELETE /v1/container?volumes=true", service_steps.get("DELETE /v1/container", []))
            print_steps("raw socket, the same engine work", steps_median(raw_steps))
            return 0
    finally:
        raw.close()
        remove_bench_containers(PREFIX)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
