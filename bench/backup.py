"""Bench backup and restore of a ~200 MB site against host `tar` of the same volume and
`docker cp`, with the service worker's peak RSS, in one run.

    .venv/bin/python bench/backup.py [--mb 200]

The site holds a copy of the image's /usr (code and binaries) topped up with random bytes
(media) to the size asked. dockerlink's backup is tar (engine) + zstd-3 + sha256 to disk;
host tar is `tar --zstd` over the volume's mountpoint (needs root and a local engine);
docker cp is the plain tar out of / into the container. Restore: dockerlink's in-place
restore (staging + swap) vs `tar -x` into an empty directory vs `docker cp -` in.
Everything it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import docker  # noqa: E402
from tests.integration.live import live_service  # noqa: E402
from tests.integration.live import workers_peak_rss_mib as _workers_peak_rss_mib  # noqa: E402

PREFIX = "dltest-bench-backup-"


def _docker_cp(args: list[str], stdin: Path | None = None, stdout: Path | None = None) -> None:
    with open(stdin or os.devnull, "rb") as i, open(stdout or os.devnull, "wb") as o:
        subprocess.run(["docker", "cp", *args], stdin=i, stdout=o, check=True)


def _timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@contextmanager
def site_in_service(prefix: str, root: int, memory: float = 1, cpulimit: float = 2) -> Iterator[tuple]:
    """A one-worker live service (its own backup_dir) with one started site:
    (service, container id, name, temporary directory); everything removed after."""
    name = prefix + uuid.uuid4().hex[:6]
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
                    json={"name": name, "host_port_root": root, "memory": memory, "cpulimit": cpulimit},
                )
                r.raise_for_status()
                yield s, r.json()["Id"], name, tmpd
            finally:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True)
                subprocess.run(["docker", "volume", "rm", "-f", f"dockerlink-{name}-www"], capture_output=True)


def take_backup(s, cid: str) -> dict:  # noqa: ANN001
    """Start a backup of the site and wait for its end; its record."""
    b = s.request("POST", "/v1/container/backup", params={"id": cid}).json()["backup"]
    while True:
        rec = next(x for x in s.get("/v1/container/backups", params={"id": cid}).json()["backups"] if x["backup"] == b)
        if rec["state"] != "running":
            return rec
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with site_in_service(PREFIX, 54000) as (s, cid, name, tmpd):
        docker("exec", cid, "sh", "-c", "mkdir -p /var/www/html && cp -a /usr /var/www/html/")
        used = int(docker("exec", cid, "du", "-sb", "/var/www").split()[0])
        top_up = max(args.mb * 10**6 - used, 0)
        docker("exec", cid, "sh", "-c", f"head -c {top_up} /dev/urandom > /var/www/html/media.bin")
        size = int(docker("exec", cid, "du", "-sb", "/var/www").split()[0])
        mb = size / 1e6
        rss_before = _workers_peak_rss_mib(s.process.pid)

        rec = {}
        t_backup = _timed(lambda: rec.update(take_backup(s, cid)))
        assert rec["state"] == "done", rec
        t_restore = _timed(
            lambda: s.request(
                "POST", "/v1/container/restore", params={"id": cid, "backup": rec["backup"]}
            ).raise_for_status()
        )
        rss_after = _workers_peak_rss_mib(s.process.pid)

        mountpoint = json.loads(docker("volume", "inspect", f"dockerlink-{name}-www"))[0]["Mountpoint"]
        out = tmpd / "host.tar.zst"
        t_tar = _timed(lambda: subprocess.run(["tar", "--zstd", "-C", mountpoint, "-cf", str(out), "."], check=True))
        (tmpd / "x").mkdir()
        t_untar = _timed(lambda: subprocess.run(["tar", "--zstd", "-C", str(tmpd / "x"), "-xf", str(out)], check=True))
        cp_out = tmpd / "cp.tar"
        t_cp = _timed(lambda: _docker_cp([f"{cid}:/var/www", "-"], stdout=cp_out))
        docker("exec", cid, "mkdir", "-p", "/tmp/cpin")
        t_cp_in = _timed(lambda: subprocess.run(f"docker cp - {cid}:/tmp/cpin < {cp_out}", shell=True, check=True))
    print(f"\nsite: {mb:.0f} MB in /var/www; dockerlink's archive {rec['size'] / 1e6:.0f} MB (zstd-3)")
    head = f"{'operation':<10} {'dockerlink MB/s':>16} {'host tar MB/s':>14} {'docker cp MB/s':>15}"
    head += f" {'vs tar':>7} {'vs cp':>7}"
    print(head)
    print("-" * len(head))
    for op, ours, tar, cp in (("backup", t_backup, t_tar, t_cp), ("restore", t_restore, t_untar, t_cp_in)):
        print(f"{op:<10} {mb / ours:>16.1f} {mb / tar:>14.1f} {mb / cp:>15.1f} {tar / ours:>6.2f}x {cp / ours:>6.2f}x")
    print(f"worker peak RSS: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after backup and restore")


if __name__ == "__main__":
    main()
