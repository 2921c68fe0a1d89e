"""Bench the cgroup OOM counter's check at N running sites (the job runs it every 10 s).

    .venv/bin/python bench/oom_check.py [N] [--repeat 5]

The job's own code (`OomCounter.check`) on a real journal file in a temporary directory,
with N sites whose counters read 0 (idle sites: the common case) and then one site whose
counter rose. Prints the median ms of a check and the rows it wrote to the journal (each
row written back is a WAL page, every 10 s). No engine: the counts are given, as the
`OomWatch` would read them from the cgroups.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median_ms  # noqa: E402
from dockerlink.events.journal import Journal  # noqa: E402
from dockerlink.events.oom import OomCount, OomCounter  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dltest-bench-oom-") as tmp:
        journal = Journal(os.path.join(tmp, "events.sqlite3"))
        counts = [OomCount(f"{i:064x}", f"site{i}", 1_700_000_000, 0) for i in range(args.n)]
        counter = OomCounter(lambda: counts, journal)
        changes = journal._db.total_changes  # noqa: SLF001 - the bench counts the journal's writes
        first = median_ms(counter.check, 1, warmup=0)
        print(f"first check (the baselines): {first:.1f} ms, {journal._db.total_changes - changes} rows written")  # noqa: SLF001
        changes = journal._db.total_changes  # noqa: SLF001
        idle = median_ms(counter.check, args.repeat, warmup=0)
        written = (journal._db.total_changes - changes) / args.repeat  # noqa: SLF001
        print(f"check of {args.n} idle sites: median {idle:.1f} ms, {written:.0f} rows written per check")
        counts[0] = OomCount(counts[0].container_id, counts[0].name, counts[0].started_at, 1)
        changes = journal._db.total_changes  # noqa: SLF001
        rose = median_ms(counter.check, 1, warmup=0)
        print(
            f"check with one kill: {rose:.1f} ms, {journal._db.total_changes - changes} rows written (event + counter)"
        )  # noqa: SLF001
        journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
