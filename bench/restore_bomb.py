"""The service worker's peak RSS while it restores a backup of a site holding N GiB of zeros.

    .venv/bin/python bench/restore_bomb.py [--gib 1]

The site's file is sparse (`truncate -s`): it costs no disk, but the engine's tar holds every
zero, and zstd makes the backup a few hundred KB. A restore that decompresses without a bound
on each step holds the whole expansion in memory (issue 29); a streaming one stays flat. The
restore writes the N GiB into the site's volume (the engine extracts zeros, not holes).
Everything it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backup import site_in_service, take_backup  # noqa: E402
from bench.common import docker  # noqa: E402
from tests.integration.live import workers_peak_rss_mib  # noqa: E402

PREFIX = "dltest-bench-bomb-"
ROOT = 9500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    args = parser.parse_args()
    with site_in_service(PREFIX, ROOT, memory=0.5, cpulimit=1) as (s, cid, _, _):
        docker("exec", cid, "truncate", "-s", str(int(args.gib * 2**30)), "/var/www/html/zeros")
        rec = take_backup(s, cid)
        assert rec["state"] == "done", rec
        rss_before = workers_peak_rss_mib(s.process.pid)
        t0 = time.perf_counter()
        restore = s.request("POST", "/v1/container/restore", params={"id": cid, "backup": rec["backup"]}, timeout=900)
        seconds = time.perf_counter() - t0
        rss_after = workers_peak_rss_mib(s.process.pid)
        on_disk = docker("exec", cid, "du", "-sm", "--apparent-size", "/var/www/html/zeros").split()[0]
    print(f"site: {args.gib:g} GiB of zeros, backup {rec['size'] / 1e3:.0f} KB, tar {rec['read'] / 2**20:.0f} MiB")
    print(f"restore: {restore.status_code} {restore.text.strip()[:200]} in {seconds:.1f} s; file after: {on_disk} MiB")
    print(f"worker peak RSS: {rss_before:.0f} MiB before the restore, {rss_after:.0f} MiB after it")


if __name__ == "__main__":
    main()
