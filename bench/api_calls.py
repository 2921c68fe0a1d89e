"""Bench the container API through gunicorn against raw engine calls and the docker CLI.

    .venv/bin/python bench/api_calls.py [--containers 50 200] [--repeat 15]

For each operation it prints the median of: dockerlink over HTTP (a real gunicorn on a
loopback port), the raw engine socket calls that do the same work (http.client), and the
docker CLI commands that do the same work; then the ratios. Needs dockerd and the base
image (scripts/test.sh sets both up). Every container it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_LABEL, median_ms, print_table, remove_bench_containers  # noqa: E402
from bench.rawsocket import RawEngine  # noqa: E402
from tests.integration.live import live_service  # noqa: E402

PREFIX = "dltest-bench-api-"
IMAGE = "dockerlink/base:latest"


def make_idle_containers(raw: RawEngine, n: int, start_index: int) -> list[str]:
    """Created, not started: listing and inspecting cost the same, and the host stays idle."""
    ids = []
    for i in range(start_index, start_index + n):
        body = {"Image": IMAGE, "Cmd": ["sleep", "infinity"], "Labels": {BENCH_LABEL: "1"}}
        ids.append(raw.json("POST", f"/containers/create?name={PREFIX}{i}", body)["Id"])
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()

    raw = RawEngine()
    counter = itertools.count()
    remove_bench_containers(PREFIX)
    try:
        with tempfile.TemporaryDirectory() as tmp, live_service(Path(tmp), publish_ip="127.0.0.1") as svc:
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
            for n in sorted(args.containers):
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

            def api_cycle() -> None:
                name = f"{PREFIX}c{next(counter)}"
                body = {"name": name, "host_port_root": 15000, "memory": 0.25, "cpulimit": 0.5}
                r = http.put(f"{svc.url}/v1/container", params={"start": "true"}, json=body)
                r.raise_for_status()
                http.delete(
                    f"{svc.url}/v1/container", params={"id": r.json()["Id"], "volumes": "true"}
                ).raise_for_status()

            def raw_cycle() -> None:
                name = f"{PREFIX}c{next(counter)}"
                vol = f"dockerlink-{name}-www"
                raw.json("GET", f"/images/{IMAGE}/json")
                raw.json("GET", "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22dockerlink%22%5D%7D")
                raw.json("POST", "/volumes/create", {"Name": vol})
                body = {
                    "Image": IMAGE,
                    "Labels": {BENCH_LABEL: "1"},
                    "ExposedPorts": {"22/tcp": {}, "80/tcp": {}, "443/tcp": {}},
                    "HostConfig": {
                        "Memory": 1 << 28,
                        "MemorySwap": 1 << 28,
                        "CpuPeriod": 100000,
                        "CpuQuota": 50000,
                        "PortBindings": {
                            f"{p}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(15000 + p)}] for p in (22, 80, 443)
                        },
                        "Mounts": [{"Type": "volume", "Source": vol, "Target": "/var/www"}],
                        "RestartPolicy": {"Name": "unless-stopped"},
                    },
                }
                cid = raw.json("POST", f"/containers/create?name={name}", body)["Id"]
                raw.call("POST", f"/containers/{cid}/start")
                raw.call("DELETE", f"/containers/{cid}?force=1")
                raw.call("DELETE", f"/volumes/{vol}")

            def cli_cycle() -> None:
                name = f"{PREFIX}c{next(counter)}"
                vol = f"dockerlink-{name}-www"
                subprocess.run(
                    ["docker", "run", "-d", "--name", name, "--label", f"{BENCH_LABEL}=1", "-m", "256m",
                     "--memory-swap", "256m", "--cpu-period", "100000", "--cpu-quota", "50000",
                     "-p", "127.0.0.1:15022:22", "-p", "127.0.0.1:15080:80", "-p", "127.0.0.1:15443:443",
                     "-v", f"{vol}:/var/www", "--restart", "unless-stopped", IMAGE],
                    check=True, capture_output=True,
                )  # fmt: skip
                subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
                subprocess.run(["docker", "volume", "rm", vol], check=True, capture_output=True)

            reps = max(3, args.repeat // 3)
            rows.append(
                (
                    "PUT ?start=true + DELETE",
                    median_ms(api_cycle, reps),
                    median_ms(raw_cycle, reps),
                    median_ms(cli_cycle, reps),
                )
            )
            print_table("dockerlink API (gunicorn, 2 gthread workers) vs raw engine socket vs docker CLI", rows)
    finally:
        raw.close()
        remove_bench_containers(PREFIX)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
