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
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import docker  # noqa: E402
from tests.integration.live import live_service, workers_peak_rss_mib  # noqa: E402

PREFIX = "dltest-bench-bomb-"
ROOT = 9500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    args = parser.parse_args()
    name = PREFIX + uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        (tmpd / "svc").mkdir()
        settings = {"publish_ip": "127.0.0.1", "port_area_size": "500", "backup_dir": str(tmpd / "backups")}
        with live_service(tmpd / "svc", DOCKERLINK_WORKERS="1", **settings) as s:
            try:
                r = s.request(
                    "PUT",
                    "/v1/container",
                    params={"start": "true"},
                    json={"name": name, "host_port_root": ROOT, "memory": 0.5, "cpulimit": 1},
                )
                r.raise_for_status()
                cid = r.json()["Id"]
                docker("exec", cid, "truncate", "-s", str(int(args.gib * 2**30)), "/var/www/html/zeros")
                b = s.request("POST", "/v1/container/backup", params={"id": cid}).json()["backup"]
                while True:
                    rec = next(
                        x
                        for x in s.get("/v1/container/backups", params={"id": cid}).json()["backups"]
                        if x["backup"] == b
                    )
                    if rec["state"] != "running":
                        break
                    time.sleep(0.2)
                assert rec["state"] == "done", rec
                rss_before = workers_peak_rss_mib(s.process.pid)
                t0 = time.perf_counter()
                restore = s.request("POST", "/v1/container/restore", params={"id": cid, "backup": b}, timeout=900)
                seconds = time.perf_counter() - t0
                rss_after = workers_peak_rss_mib(s.process.pid)
                on_disk = docker("exec", cid, "du", "-sm", "--apparent-size", "/var/www/html/zeros").split()[0]
            finally:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True)
                subprocess.run(["docker", "volume", "rm", "-f", f"dockerlink-{name}-www"], capture_output=True)
    print(
        f"site: {args.gib:g} GiB of zeros; backup {rec['size'] / 1e3:.0f} KB (plain tar {rec['read'] / 2**20:.0f} MiB)"
    )
    print(
        f"restore: {restore.status_code} {restore.text.strip()[:200]} in {seconds:.1f} s; the file after: {on_disk} MiB"
    )
    print(f"worker peak RSS: {rss_before:.0f} MiB before the restore, {rss_after:.0f} MiB after it")


if __name__ == "__main__":
    main()
