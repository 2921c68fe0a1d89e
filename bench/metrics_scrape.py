"""The cost of one /v1/metrics scrape with N sites (default 200), in process: the store's
last round, names from the (cached) listing, the exposition; plus the first scrape, which
also lists the containers. No daemon needed: the engine is the tests' fake.

    .venv/bin/python bench/metrics_scrape.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from falcon.testing import TestClient  # noqa: E402

from bench.common import median_ms  # noqa: E402
from dockerlink.app import create_app  # noqa: E402
from dockerlink.config import Config  # noqa: E402
from dockerlink.stats.samples import Reading, derive  # noqa: E402
from dockerlink.stats.store import StatsStore  # noqa: E402
from tests.fakes import FakeEngine  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = FakeEngine()
        sites = [engine.containers.add(f"site{i}", labels={"dockerlink": "0.1.0"}) for i in range(n)]
        store = StatsStore(f"{tmp}/stats.sqlite3")
        ts = time.time()
        readings = [
            Reading(c.id, ts, True, cpu_ns=i * 10**9, memory_used=1 << 26, memory_limit=1 << 30, net_rx=i, net_tx=i)
            for i, c in enumerate(sites)
        ]
        store.record_round(ts, [(r, derive(None, r, ts)) for r in readings])
        client = TestClient(create_app(Config(stats_db=store.path, api_token=TOKEN), engine=engine, store=store))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        t0 = time.perf_counter()
        first = client.simulate_get("/v1/metrics", headers=headers)
        first_ms = (time.perf_counter() - t0) * 1000
        assert first.status_code == 200
        steady = median_ms(lambda: client.simulate_get("/v1/metrics", headers=headers), repeat=30)
        lines = sum(1 for line in first.text.splitlines() if line.startswith("dockerlink_site_"))
        print(f"{n} sites: {lines} site series, {len(first.content)} bytes")
        print(f"first scrape (lists names): {first_ms:.1f} ms; steady scrape (median of 30): {steady:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
