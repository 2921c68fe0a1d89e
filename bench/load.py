"""Load: concurrent clients on loopback over a mix of list, get, stats and git head.

    .venv/bin/python bench/load.py [--clients 50] [--seconds 60] [--sites 20]

Starts dockerlink under gunicorn (2 gthread workers x 8 threads, the default), creates
`--sites` started sites (each with a one-commit repository), lets the collector sample,
then runs the load and prints requests/s, p50/p99, the error count, and the service's open
fds and RSS (master, workers and collector together) before and after. Removes its sites.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen import open_fds, prepare_sites, process_tree, rss_bytes, run_load, summary  # noqa: E402
from dockerlink.engine import Engine  # noqa: E402
from tests.integration.live import live_service  # noqa: E402

PREFIX = "dltest-load-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--sites", type=int, default=20)
    args = ap.parse_args()
    engine = Engine()
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_service(Path(tmp), publish_ip="127.0.0.1", stats_interval="2", port_area_size="500") as svc,
    ):
        names = [f"{PREFIX}{i}" for i in range(args.sites)]
        try:
            ids = prepare_sites(svc.url, engine, names, root_base=20000)
            time.sleep(5)  # a few collector rounds, so stats have history
            run_load(svc.url, ids, clients=4, seconds=2)  # warm the workers' pools
            pids = process_tree(svc.process.pid)
            fds0, rss0 = open_fds(pids), rss_bytes(pids)
            result = run_load(svc.url, ids, clients=args.clients, seconds=args.seconds)
            pids = process_tree(svc.process.pid)
            fds1, rss1 = open_fds(pids), rss_bytes(pids)
            print(f"load: {args.clients} clients, {args.seconds:g} s, {args.sites} sites, mix list/get/stats/git head")
            print(summary(result))
            mib = 2**20
            print(f"service fds before/after: {fds0} / {fds1}; RSS: {rss0 / mib:.1f} / {rss1 / mib:.1f} MiB")
            for line in result.error_samples[:10]:
                print("  error:", line)
        finally:
            for name in names:  # by name: also what a failed preparation left
                requests.delete(f"{svc.url}/v1/container", params={"id": name, "volumes": "true"}, timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
