"""Bench dropping one deleted site's stats history with N sites' 4 h of samples stored.

    .venv/bin/python bench/forget.py [N] [--rounds 2880]

A real stats file (`StatsStore`, its schema) filled directly with N sites × `rounds`
rounds of tier-0 samples (2880: 4 h at the 5 s interval), then `StatsStore.forget` of one
site after another, timed, beside the statement it replaced (`DELETE FROM recent WHERE
cid = ?`: a scan of every site's samples) on the same file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dockerlink.stats.store import StatsStore  # noqa: E402


def fill(store: StatsStore, n: int, rounds: int) -> list[str]:
    db = store._db()
    columns = [row[1] for row in db.execute("PRAGMA table_info(recent)")]
    ids = [f"{k:064x}" for k in range(n)]
    db.execute("BEGIN")
    db.executemany("INSERT INTO containers (cid, container) VALUES (?, ?)", list(enumerate(ids, 1)))
    db.executemany("INSERT INTO rounds (ts) VALUES (?)", [(1.7e9 + 5 * r,) for r in range(rounds)])
    marks = ", ".join("?" for _ in columns)
    row = {c: 0 for c in columns} | {"body": "{}"}

    def rows():  # noqa: ANN202
        for r in range(rounds):
            for cid in range(1, n + 1):
                yield tuple({**row, "ts": 1.7e9 + 5 * r, "cid": cid}[c] for c in columns)

    db.executemany(f"INSERT INTO recent ({', '.join(columns)}) VALUES ({marks})", rows())
    db.execute("COMMIT")
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--rounds", type=int, default=2880)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dltest-bench-forget-") as tmp:
        store = StatsStore(os.path.join(tmp, "stats.sqlite3"))
        t0 = time.perf_counter()
        ids = fill(store, args.n, args.rounds)
        print(f"{args.n} sites x {args.rounds} rounds stored in {time.perf_counter() - t0:.0f} s")
        ours, scan = [], []
        for k in range(args.repeat):
            t0 = time.perf_counter()
            store.forget(ids[k])
            ours.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            store._db().execute("DELETE FROM recent WHERE cid = ?", (args.repeat + k + 1,))
            scan.append((time.perf_counter() - t0) * 1000)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"forget one site (a seek per round): {statistics.median(ours):.1f} ms (median of {args.repeat})")
        print(f"the scan it replaced:                {statistics.median(scan):.1f} ms; load {load}")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
