"""Bench backup and restore of a ~200 MB site against host `tar` of the same volume and
`docker cp`, with the service worker's peak RSS, in one run.

    .venv/bin/python bench/backup.py [--mb 200] [--repeat 3]

The site holds a copy of the image's /usr (code and binaries) topped up with random bytes
(media) to the size asked. dockerlink's backup is the site's tar (read from the volume's
directory with this local engine) + zstd + sha256 to disk, synced; host tar is `tar
--zstd` over the volume's mountpoint (needs root and a local engine); docker cp is the
plain tar out of / into the container. Restore: dockerlink's in-place restore (stop,
staging, swap, start) vs `tar -x` into an empty directory vs `docker cp -` in. Medians of
`--repeat` runs; the restore's steps from the service's timings (DOCKERLINK_TIMINGS).
Everything it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
from dockerlink.backups.archive import LEVEL  # noqa: E402
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
def site_in_service(prefix: str, root: int, memory: float = 1, cpulimit: float = 2, **extra: str) -> Iterator[tuple]:
    """A one-worker live service (its own backup_dir, `extra` settings) with one started
    site: (service, container id, name, temporary directory); everything removed after."""
    name = prefix + uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        (tmpd / "svc").mkdir()
        settings = {"publish_ip": "127.0.0.1", "port_area_size": "500", "backup_dir": str(tmpd / "backups"), **extra}
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


def take_backup(s, cid: str, target: str | None = None) -> dict:  # noqa: ANN001
    """Start a backup of the site (to `target`) and wait for its end; its record."""
    params = {"id": cid, **({"target": target} if target else {})}
    b = s.request("POST", "/v1/container/backup", params=params).json()["backup"]
    while True:
        rec = next(x for x in s.get("/v1/container/backups", params={"id": cid}).json()["backups"] if x["backup"] == b)
        if rec["state"] != "running":
            return rec
        time.sleep(0.05)


def _worker(master: int) -> int:
    """The pid of `master`'s one gunicorn worker (the collector left out)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == master and b"dockerlink.collector" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        except (OSError, ValueError, IndexError):
            continue
    raise RuntimeError(f"no worker of {master}")


def _cpu(pid: int) -> tuple[float, ...]:
    """CPU seconds of `pid` so far: its user and system time, then its reaped children's
    (restic: the worker waits for it before the restore answers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return tuple(int(f) / os.sysconf("SC_CLK_TCK") for f in fields[11:15])


def _timed_cpu(fn, pid: int, cpu: list[tuple[float, ...]]) -> float:  # noqa: ANN001
    """`_timed(fn)`, appending to `cpu` what `pid` (and its reaped children) spent meanwhile."""
    before = _cpu(pid)
    t = _timed(fn)
    cpu.append(tuple(b - a for a, b in zip(before, _cpu(pid), strict=True)))
    return t


def _print_cpu(cpu: list[tuple[float, ...]], indent: str = "") -> None:
    med = statistics.median
    user, system, cuser, csystem = (med(c[i] for c in cpu) for i in range(4))
    line = f"{indent}worker CPU per restore (medians): user {user:.2f} s, sys {system:.2f} s"
    if cuser or csystem:
        line += f"; restic (its child): user {cuser:.2f} s, sys {csystem:.2f} s"
    print(line)


def _old_tree_removed(mountpoint: str) -> None:
    """Wait until the restore's set-aside old tree, removed after its answer, is gone."""
    while any(n.startswith(".dockerlink-restore") for n in os.listdir(mountpoint)):
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--restic", action="store_true", help="the restic rows only")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-restic", action="store_true", help="without the restic rows")
    args = parser.parse_args()
    if args.restic:
        return bench_restic(args.mb, args.repeat)
    timings = Path(tempfile.mkdtemp(prefix="dltest-bench-timings-")) / "timings.jsonl"
    with site_in_service(PREFIX, 54000, DOCKERLINK_TIMINGS=str(timings)) as (s, cid, name, tmpd):
        docker("exec", cid, "sh", "-c", "mkdir -p /var/www/html && cp -a /usr /var/www/html/")
        used = int(docker("exec", cid, "du", "-sb", "/var/www").split()[0])
        top_up = max(args.mb * 10**6 - used, 0)
        docker("exec", cid, "sh", "-c", f"head -c {top_up} /dev/urandom > /var/www/html/media.bin")
        size = int(docker("exec", cid, "du", "-sb", "/var/www").split()[0])
        mb = size / 1e6
        rss_before = _workers_peak_rss_mib(s.process.pid)

        mountpoint = json.loads(docker("volume", "inspect", f"dockerlink-{name}-www"))[0]["Mountpoint"]
        t_backup, t_restore, t_drop, rec, cpu = [], [], [], {}, []
        worker = _worker(s.process.pid)
        for _ in range(args.repeat):
            t_backup.append(_timed(lambda: rec.update(take_backup(s, cid))))
            assert rec["state"] == "done", rec
            t_restore.append(
                _timed_cpu(
                    lambda: s.request(
                        "POST", "/v1/container/restore", params={"id": cid, "backup": rec["backup"]}
                    ).raise_for_status(),
                    worker,
                    cpu,
                )
            )
            t_drop.append(_timed(lambda: _old_tree_removed(mountpoint)))
        rss_after = _workers_peak_rss_mib(s.process.pid)

        out = tmpd / "host.tar.zst"
        t_tar, t_untar, t_cp, t_cp_in = [], [], [], []
        cp_out = tmpd / "cp.tar"
        for i in range(args.repeat):
            t_tar.append(
                _timed(lambda: subprocess.run(["tar", "--zstd", "-C", mountpoint, "-cf", str(out), "."], check=True))
            )
            x = tmpd / f"x{i}"
            x.mkdir()
            untar = ["tar", "--zstd", "-C", str(x), "-xf", str(out)]
            t_untar.append(_timed(lambda: subprocess.run(untar, check=True)))  # noqa: B023
            subprocess.run(["rm", "-rf", str(x)], check=True)
            t_cp.append(_timed(lambda: _docker_cp([f"{cid}:/var/www", "-"], stdout=cp_out)))
            docker("exec", cid, "sh", "-c", "rm -rf /tmp/cpin && mkdir -p /tmp/cpin")
            t_cp_in.append(
                _timed(lambda: subprocess.run(f"docker cp - {cid}:/tmp/cpin < {cp_out}", shell=True, check=True))
            )
    med = statistics.median
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    print(f"site: {mb:.0f} MB in /var/www; dockerlink's archive {rec['size'] / 1e6:.0f} MB (zstd-{LEVEL})")
    print(f"medians of {args.repeat} runs")
    head = f"{'operation':<10} {'dockerlink MB/s':>16} {'host tar MB/s':>14} {'docker cp MB/s':>15}"
    head += f" {'vs tar':>7} {'vs cp':>7}"
    print(head)
    print("-" * len(head))
    for op, ours, tar, cp in (
        ("backup", med(t_backup), med(t_tar), med(t_cp)),
        ("restore", med(t_restore), med(t_untar), med(t_cp_in)),
    ):
        print(f"{op:<10} {mb / ours:>16.1f} {mb / tar:>14.1f} {mb / cp:>15.1f} {tar / ours:>6.2f}x {cp / ours:>6.2f}x")
    print(f"worker peak RSS: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after backups and restores")
    print(f"old tree removed {med(t_drop):.2f} s after the restore's answer (waited for, out of every figure)")
    _print_cpu(cpu)
    restores = [json.loads(line) for line in timings.read_text().splitlines() if "/restore" in line]
    if restores:
        print("restore, where the milliseconds go (medians):")
        for i, (depth, step, _) in enumerate(restores[-1]["steps"]):
            ms = med(r["steps"][i][2] for r in restores if len(r["steps"]) == len(restores[-1]["steps"]))
            print(f"  {'  ' * depth}{step:<30} {ms:>9.1f}")
    shutil.rmtree(timings.parent, ignore_errors=True)
    if not args.no_restic:
        bench_restic(args.mb, args.repeat)


# -- restic ------------------------------------------------------------------------------------

CHANGE_1PCT = """
find /var/www -type f | sort | awk 'NR % 100 == 0' > /tmp/changed
while read -r f; do head -c "$(stat -c %s "$f")" /dev/urandom > "$f"; done < /tmp/changed
wc -l < /tmp/changed
"""


class _Repo:
    """A restic repository run by hand, as an operator would (password file in its env)."""

    def __init__(self, path: Path, password_file: Path, cache: Path) -> None:
        self.env = {
            "PATH": os.environ["PATH"],
            "RESTIC_REPOSITORY": str(path),
            "RESTIC_PASSWORD_FILE": str(password_file),
        }
        self.cache = str(cache)
        self.run("init")

    def run(self, *args: str, stdin: int | None = None) -> str:
        return subprocess.run(
            ["restic", "--cache-dir", self.cache, *args], env=self.env, stdin=stdin, capture_output=True, check=True
        ).stdout.decode()

    def raw(self) -> int:
        return json.loads(self.run("stats", "--mode", "raw-data", "--json"))["total_size"]


def _restic_stdin_backup(repo: _Repo, cid: str) -> None:
    """`docker cp` (the engine's archive stream) piped into `restic backup --stdin`."""
    cp = subprocess.Popen(["docker", "cp", f"{cid}:/var/www", "-"], stdout=subprocess.PIPE)
    repo.run("backup", "--stdin", "--stdin-filename", "www.tar", stdin=cp.stdout.fileno())  # type: ignore[union-attr]
    cp.stdout.close()  # type: ignore[union-attr]
    assert cp.wait() == 0


def _print_restic_rows(size: float, files: int, changed: int, rows: dict[str, list[tuple[float, int]]]) -> None:
    print(f"\nrestic: site of {size:.0f} MB in {files} files; {changed} files changed for the third backup")
    head = f"{'backup':<32} {'first s':>8} {'MB added':>9} {'second s':>9} {'% time':>7} {'% bytes':>8}"
    head += f" {'1% s':>7} {'% time':>7} {'% bytes':>8}"
    print(head)
    print("-" * len(head))
    for label, ((t1, b1), (t2, b2), (t3, b3)) in rows.items():
        print(
            f"{label:<32} {t1:>8.2f} {b1 / 1e6:>9.1f} {t2:>9.2f} {100 * t2 / t1:>6.1f}% {100 * b2 / b1:>7.2f}%"
            f" {t3:>7.2f} {100 * t3 / t1:>6.1f}% {100 * b3 / b1:>7.2f}%"
        )


def bench_restic(mb: int, repeat: int = 3) -> None:
    """dockerlink's restic target (the volume's files, on this host) beside restic run by
    hand on the volume's host path, restic reading the engine's stream (`docker cp` into
    `backup --stdin`) and `docker cp`: first backup, second of the unchanged site, after 1 %
    of the files changed (time, and bytes the repository grew by: `stats --mode
    raw-data`), restore."""
    with tempfile.TemporaryDirectory() as rtmp:
        rt = Path(rtmp)
        password = rt / "password"
        password.write_text(uuid.uuid4().hex)
        password.chmod(0o600)
        ours = _Repo(rt / "ours", password, rt / "cache")
        timings = rt / "timings.jsonl"
        settings = {
            "restic_repository": str(rt / "ours"),
            "restic_password_file": str(password),
            "DOCKERLINK_TIMINGS": str(timings),
        }
        with site_in_service(PREFIX + "r-", 54500, **settings) as (s, cid, name, tmpd):
            docker("exec", cid, "sh", "-c", "mkdir -p /var/www/html && cp -a /usr /var/www/html/")
            used = int(docker("exec", cid, "du", "-sb", "/var/www").split()[0])
            docker(
                "exec",
                cid,
                "sh",
                "-c",
                f"mkdir -p /var/www/html/media && i=0; left={max(mb * 10**6 - used, 0)}; "
                "while [ $left -gt 0 ]; do n=$((left < 4000000 ? left : 4000000)); "
                "head -c $n /dev/urandom > /var/www/html/media/m$i.bin; i=$((i+1)); left=$((left-n)); done",
            )
            size = int(docker("exec", cid, "du", "-sb", "/var/www").split()[0]) / 1e6
            files = int(docker("exec", cid, "sh", "-c", "find /var/www -type f | wc -l"))
            mountpoint = json.loads(docker("volume", "inspect", f"dockerlink-{name}-www"))[0]["Mountpoint"]
            by_hand = _Repo(rt / "hand", password, rt / "cache")
            stream = _Repo(rt / "stream", password, rt / "cache")

            def ours_backup() -> None:
                rec = take_backup(s, cid, "restic")
                assert rec["state"] == "done", rec

            takers = {
                "dockerlink restic": (ours, ours_backup),
                "restic by hand (host path)": (by_hand, lambda: by_hand.run("backup", mountpoint)),
                "restic --stdin (engine stream)": (stream, lambda: _restic_stdin_backup(stream, cid)),
                "docker cp": (None, lambda: _docker_cp([f"{cid}:/var/www", "-"], stdout=tmpd / "cp.tar")),
            }
            rows: dict[str, list[tuple[float, int]]] = {k: [] for k in takers}
            changed = 0
            for step in ("first", "second, unchanged", "after 1 % changed"):
                if step.startswith("after"):
                    changed = int(docker("exec", cid, "sh", "-c", CHANGE_1PCT))
                for label, (repo, take) in takers.items():
                    raw0 = repo.raw() if repo else 0
                    t = _timed(take)
                    rows[label].append((t, (repo.raw() - raw0) if repo else (tmpd / "cp.tar").stat().st_size))
            _print_restic_rows(size, files, changed, rows)
            last = next(b for b in s.get("/v1/container/backups", params={"id": cid}).json()["backups"])
            cpu: list[tuple[float, ...]] = []
            restored = _restic_restores(s, cid, last["backup"], by_hand, mountpoint, rt, tmpd, repeat, cpu)
            rss = _workers_peak_rss_mib(s.process.pid)
        _print_restic_restores(size, restored, timings)
        _print_cpu(cpu, "  ")
        print(f"  worker peak RSS through the restic backups and restores: {rss:.0f} MiB")


def _restic_restores(  # noqa: ANN202
    s,  # noqa: ANN001
    cid: str,
    backup: str,
    by_hand: _Repo,
    mountpoint: str,
    rt: Path,
    tmpd: Path,
    repeat: int,
    cpu: list[tuple[float, ...]],
):
    """`repeat` times each: dockerlink's restore of the restic backup in place (the
    worker's CPU and restic's appended to `cpu`); `restic dump` of the same tree by hand
    into /dev/null (what the restore reads); `restic restore` by hand into an empty
    directory; `docker cp -` of the site's tar in."""
    times: dict[str, list[float]] = {k: [] for k in ("ours", "dump", "hand", "cp")}
    docker("exec", cid, "mkdir", "-p", "/tmp/cpin")
    cp_out = tmpd / "cp.tar"
    parent = os.path.dirname(mountpoint)
    worker = _worker(s.process.pid)
    for i in range(repeat):
        times["ours"].append(
            _timed_cpu(
                lambda: s.request(
                    "POST", "/v1/container/restore", params={"id": cid, "backup": backup}, timeout=3600
                ).raise_for_status(),
                worker,
                cpu,
            )
        )
        _old_tree_removed(mountpoint)
        with open(os.devnull, "wb") as null:
            dump = ["restic", "--cache-dir", by_hand.cache, "dump", "--archive", "tar", "latest", parent]
            times["dump"].append(_timed(lambda: subprocess.run(dump, env=by_hand.env, stdout=null, check=True)))  # noqa: B023
        target = rt / f"restored{i}"
        target.mkdir()
        times["hand"].append(_timed(lambda: by_hand.run("restore", "latest", "--target", str(target))))  # noqa: B023
        shutil.rmtree(target)
        docker("exec", cid, "sh", "-c", "rm -rf /tmp/cpin && mkdir -p /tmp/cpin")
        times["cp"].append(
            _timed(lambda: subprocess.run(f"docker cp - {cid}:/tmp/cpin < {cp_out}", shell=True, check=True))
        )
    docker("exec", cid, "rm", "-rf", "/tmp/cpin")
    return times


def _print_restic_restores(size: float, times: dict[str, list[float]], timings: Path) -> None:
    med = statistics.median
    ours, dump, hand, cp = (med(times[k]) for k in ("ours", "dump", "hand", "cp"))
    load = os.getloadavg()[0]
    print(f"\nrestic restore of the {size:.0f} MB site, medians of {len(times['ours'])} runs, load average {load:.1f}")
    for label, t in (
        ("dockerlink restic (checked, stop, staged, synced swap, start)", ours),
        ("restic dump by hand into /dev/null (what it reads)", dump),
        ("restic restore by hand into an empty directory", hand),
        ("docker cp - in", cp),
    ):
        print(f"  {label:<64} {t:6.2f} s {size / t:6.1f} MB/s")
    print(f"  dockerlink vs docker cp - {cp / ours:.2f}x; vs restic restore {hand / ours:.2f}x")
    restores = (
        [json.loads(line) for line in timings.read_text().splitlines() if "/restore" in line]
        if timings.exists()
        else []
    )
    if restores:
        print("  where the milliseconds go (medians):")
        for i, (depth, step, _) in enumerate(restores[-1]["steps"]):
            ms = med(r["steps"][i][2] for r in restores if len(r["steps"]) == len(restores[-1]["steps"]))
            print(f"    {'  ' * depth}{step:<40} {ms:>9.1f}")


if __name__ == "__main__":
    main()
