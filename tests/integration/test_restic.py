"""The restic target with Debian's restic, on the real engine: a local repository and a
remote one served on loopback by `rclone serve restic` (restic's REST protocol).

A restic backup restores in place, into another site (`from`, the scoped-token rule),
downloads as the same zstd tar a local backup is (which a host without the repository
takes as an upload) and is deleted with `restic forget`; the retention policy forgets per
site. The password is in no argv, environment of a site, log or answer; a restic killed
mid-backup leaves a repository that `restic check` passes and the next backup works; an
unreachable repository fails the backup with its reason and leaves the site as it was.

A new host that has the repository but lost the catalog adopts the snapshots
(`dockerlink adopt-backups`) and restores one into the new site of the same name.

Port areas: 11000-13999 (size 500)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from dockerlink.backups import Backups
from dockerlink.backups.archive import check_members
from dockerlink.config import Config
from dockerlink.engine import ContainerSpec
from tests.waiting import until

from .live import free_port, live_service, wait_until
from .test_backups import CHANGE, MANIFEST, _as_site_user, _sh
from .test_backups import POPULATE as LOCAL_POPULATE

TOKEN = "restic-test-token-0123456789"
PASSWORD = "correct-horse-restic-7f3a9c"
ROOTS = {"roundtrip": 11000, "other": 11500, "killed": 12000, "remote": 12500, "unreachable": 13000, "adopt": 13500}

#: The local backups' site, every kind of file, with a small media file.
BIG = "head -c 50000000 /dev/urandom > html/big.bin"
assert BIG in LOCAL_POPULATE
POPULATE = LOCAL_POPULATE.replace(BIG, "head -c 300000 /dev/urandom > html/media.bin")


def _restic(repo: str, password_file: Path, *args: str) -> subprocess.CompletedProcess:
    """restic as an operator runs it by hand, beside the service."""
    env = {"PATH": os.environ["PATH"], "RESTIC_PASSWORD_FILE": str(password_file), "RESTIC_REPOSITORY": repo}
    return subprocess.run(["restic", "--no-cache", *args], env=env, capture_output=True, text=True, timeout=300)


def _snapshots(repo: str, password_file: Path) -> list[dict]:
    r = _restic(repo, password_file, "snapshots", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) or []


@pytest.fixture(scope="module")
def password_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("restic-secret") / "password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def local_repo(tmp_path_factory, password_file) -> str:
    repo = str(tmp_path_factory.mktemp("restic-repo") / "repo")
    r = _restic(repo, password_file, "init")
    assert r.returncode == 0, r.stderr
    return repo


@pytest.fixture(scope="module")
def rclone_repo(tmp_path_factory, password_file):
    """`rclone serve restic` on a free loopback port, serving a directory of its own."""
    root = tmp_path_factory.mktemp("rclone")
    port = free_port()
    log = open(root / "rclone.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        ["rclone", "serve", "restic", "--addr", f"127.0.0.1:{port}", str(root / "data")],
        env={**os.environ, "RCLONE_CONFIG": str(root / "rclone.conf")},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    repo = f"rest:http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: _restic(repo, password_file, "init").returncode == 0, 30, "rclone serving a new repository")
        yield repo
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def rservice(tmp_path_factory, local_repo, password_file):
    with live_service(
        tmp_path_factory.mktemp("rsvc"),
        api_token=TOKEN,
        publish_ip="127.0.0.1",
        port_area_size="500",
        restic_repository=local_repo,
        restic_password_file=str(password_file),
    ) as s:
        yield s


def _create(service, name: str, root: int) -> str:  # noqa: ANN001
    r = service.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={"name": name, "host_port_root": root, "memory": 0.5, "cpulimit": 1},
    )
    assert r.status_code in (200, 201), r.text
    return r.json()["Id"]


def _wait_backup(service, name: str, backup: str) -> dict:  # noqa: ANN001
    def ended() -> dict | None:
        r = service.get("/v1/container/backups", params={"name": name})
        assert r.status_code == 200, r.text
        record = next(b for b in r.json()["backups"] if b["backup"] == backup)
        return record if record["state"] != "running" else None

    return wait_until(ended, 180, f"backup {backup} ended")


def _backup(service, name: str, cid: str, **params: str) -> dict:  # noqa: ANN001
    r = service.request("POST", "/v1/container/backup", params={"id": cid, **params})
    assert r.status_code == 202, r.text
    return _wait_backup(service, name, r.json()["backup"])


def test_a_restic_backup_restores_downloads_moves_and_is_forgotten(
    engine, rservice, unique_name, local_repo, password_file
):
    cid = _create(rservice, unique_name, ROOTS["roundtrip"])
    _sh(engine, cid, POPULATE)
    before = _sh(engine, cid, MANIFEST)

    record = _backup(rservice, unique_name, cid, target="restic")
    assert (record["state"], record["target"], record["source"]) == ("done", "restic", "files"), record
    assert "path" not in record  # a host path: not listed
    [snap] = [s for s in _snapshots(local_repo, password_file) if f"dockerlink-backup={record['backup']}" in s["tags"]]
    assert {"dockerlink", f"dockerlink-site={unique_name}", f"dockerlink-container={cid}"} <= set(snap["tags"])
    assert snap["short_id"] == record["snapshot"]
    listed = rservice.get("/v1/container/backups", params={"id": cid}).json()["backups"]
    assert [(b["backup"], b["target"]) for b in listed] == [(record["backup"], "restic")]

    # In place.
    _sh(engine, cid, CHANGE)
    r = rservice.request("POST", "/v1/container/restore", params={"id": cid, "backup": record["backup"]})
    assert r.status_code == 200, r.text
    assert engine.containers.inspect(cid).running
    assert _sh(engine, cid, MANIFEST) == _as_site_user(before)

    # Into another site: the panel names the source; a scoped token cannot (403).
    other_name = unique_name + "-o"
    other = _create(rservice, other_name, ROOTS["other"])
    r = rservice.request("POST", "/v1/container/restore", params={"id": other, "backup": record["backup"]})
    assert r.status_code == 404, r.text  # listed under another name: only `from` finds it
    r = rservice.request("POST", "/v1/token", json={"id": other, "scopes": ["backup"]})
    scoped = {"Authorization": f"Bearer {r.json()['token']}"}
    for params, status in (({}, 404), ({"from": unique_name}, 403)):
        r = rservice.request(
            "POST", "/v1/container/restore", params={"id": other, "backup": record["backup"], **params}, headers=scoped
        )
        assert r.status_code == status, r.text
    assert _sh(engine, other, "ls -A /var/www/html") == b""
    r = rservice.request(
        "POST", "/v1/container/restore", params={"id": other, "backup": record["backup"], "from": unique_name}
    )
    assert r.status_code == 200, r.text
    assert _sh(engine, other, MANIFEST) == _as_site_user(before)

    # Downloaded: the zstd tar of www/ a local backup is.
    d = rservice.get("/v1/container/backup", params={"name": unique_name, "backup": record["backup"]})
    assert d.status_code == 200, d.text
    assert d.headers["X-Backup-Sha256"] == hashlib.sha256(d.content).hexdigest()
    assert int(d.headers["Content-Length"]) == len(d.content)
    plain = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(d.content)).read()
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        names = tar.getnames()
    assert names[0] == "www" and "www/html/secret.txt" in names and all(n.startswith("www") for n in names)
    assert not list((Path(rservice.env["backup_dir"]) / unique_name).glob(".*restic"))  # written out, then removed
    # Uploaded (what a host without the repository does with it: an upload never touches
    # restic) and restored into the other site, changed meanwhile.
    _sh(engine, other, CHANGE)
    up = rservice.request("PUT", "/v1/container/backup", params={"name": other_name}, data=d.content)
    assert up.status_code == 201, up.text
    r = rservice.request("POST", "/v1/container/restore", params={"id": other, "backup": up.json()["backup"]})
    assert r.status_code == 200, r.text
    assert _sh(engine, other, MANIFEST) == _as_site_user(before)

    # Deleted: `restic forget`, the record gone.
    r = rservice.request("DELETE", "/v1/container/backup", params={"name": unique_name, "backup": record["backup"]})
    assert r.status_code == 204, r.text
    assert not [s for s in _snapshots(local_repo, password_file) if s["short_id"] == record["snapshot"]]
    assert rservice.get("/v1/container/backups", params={"id": cid}).json()["backups"] == []

    # The password: in no log, no answer, no site's environment.
    assert PASSWORD not in rservice.log.read_text()
    assert PASSWORD not in d.text and PASSWORD not in json.dumps(listed)
    for ref in (cid, other):
        assert PASSWORD.encode() not in _sh(engine, ref, "cat /proc/1/environ; env")
    for ref in (cid, other):
        rservice.request("DELETE", "/v1/container", params={"id": ref, "deletevolume": "true"})


def test_a_new_host_adopts_the_repositorys_backups_and_restores_one_into_the_new_site(engine, rservice, unique_name):
    """The host is lost with its catalog (here: the site deleted and its catalog directory
    removed); on the new host, `dockerlink adopt-backups` lists the repository's snapshots
    again, and the panel restores one into the new site of that name (another container,
    so with `from`). Adopting again adds nothing."""
    cid = _create(rservice, unique_name, ROOTS["adopt"])
    _sh(engine, cid, POPULATE)
    before = _sh(engine, cid, MANIFEST)
    record = _backup(rservice, unique_name, cid, target="restic")
    volume = engine.containers.inspect(cid).volumes["/var/www"]
    engine.containers.remove(cid, force=True)  # the host died: no delete, no final backup
    engine.volumes.remove(volume)
    shutil.rmtree(Path(rservice.env["backup_dir"]) / unique_name)

    new = _create(rservice, unique_name, ROOTS["adopt"])
    assert rservice.get("/v1/container/backups", params={"name": unique_name}).json()["backups"] == []

    def adopt() -> str:
        argv = [sys.executable, "-m", "dockerlink.cli", "adopt-backups", "--site", unique_name]
        done = subprocess.run(argv, env=rservice.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"adopted {unique_name} {record['backup']} (snapshot {record['snapshot']}, manual)" in adopt()
    [listed] = rservice.get("/v1/container/backups", params={"name": unique_name}).json()["backups"]
    assert (listed["backup"], listed["state"], listed["target"], listed["kind"], listed["container"]) == (
        record["backup"],
        "done",
        "restic",
        "manual",
        cid,
    )
    r = rservice.request("POST", "/v1/container/restore", params={"id": new, "backup": record["backup"]})
    assert r.status_code == 409, r.text  # the lost site's: the panel names it
    r = rservice.request(
        "POST", "/v1/container/restore", params={"id": new, "backup": record["backup"], "from": unique_name}
    )
    assert r.status_code == 200, r.text
    assert _sh(engine, new, MANIFEST) == _as_site_user(before)
    assert "0 backup(s) adopted" in adopt()
    rservice.request("DELETE", "/v1/container", params={"id": new, "deletevolume": "true"})


def _restic_pid(tag: str) -> int | None:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"restic\0") and tag.encode() in cmdline:
                return int(pid)
    return None


def _packs(repo: str) -> int:
    return sum(len(files) for _, _, files in os.walk(Path(repo) / "data"))


def test_a_restic_killed_mid_backup_leaves_a_repository_that_checks_and_the_next_backup_works(
    engine, rservice, unique_name, local_repo, password_file
):
    cid = _create(rservice, unique_name, ROOTS["killed"])
    _sh(engine, cid, "head -c 120000000 /dev/urandom > /var/www/html/media.bin")
    packs = _packs(local_repo)
    r = rservice.request("POST", "/v1/container/backup", params={"id": cid, "target": "restic"})
    assert r.status_code == 202, r.text
    backup = r.json()["backup"]

    pid = wait_until(lambda: _restic_pid(f"dockerlink-backup={backup}"), 60, "restic backing the site up")
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert PASSWORD.encode() not in cmdline and local_repo.encode() not in cmdline, cmdline
    assert f"RESTIC_PASSWORD_FILE={password_file}".encode() in environ
    assert not [e for e in environ if e.startswith(b"RESTIC_PASSWORD=") or PASSWORD.encode() in e]
    assert not [e for e in environ if e.startswith(b"api_token=")]  # nothing of dockerlink's own settings

    until(lambda: _packs(local_repo) >= packs + 2, "restic writing packs", timeout=60)
    os.kill(pid, signal.SIGKILL)
    record = _wait_backup(rservice, unique_name, backup)
    assert record["state"] == "failed" and record["error"].startswith("restic: "), record
    assert "\n" not in record["error"]

    check = _restic(local_repo, password_file, "check")
    assert check.returncode == 0, check.stdout + check.stderr  # the killed run's lock is gone too
    again = _backup(rservice, unique_name, cid, target="restic")
    assert again["state"] == "done", again
    assert engine.containers.inspect(cid).running
    rservice.request("DELETE", "/v1/container", params={"id": cid, "deletevolume": "true"})


def _in_process(engine, repo: str, password_file: Path, tmp_path: Path, instance: str) -> Backups:  # noqa: ANN001
    """The backups of a service in this process, restic the target, its state in `tmp_path`."""
    config = Config.from_mapping(
        {
            "restic_repository": repo,
            "restic_password_file": str(password_file),
            "backup_target": "restic",
            "backup_dir": str(tmp_path / "backups"),
            "stats_db": str(tmp_path / "stats.sqlite3"),
            "instance_id": instance,
        }
    )
    return Backups(engine, config, notify=lambda *_: None)


def test_the_retention_policy_forgets_per_site(engine, unique_name, local_repo, password_file, tmp_path):
    """`ResticTarget.forget`, as the schedule calls it, in this process against the real
    repository: each site keeps its newest daily backup; the others' snapshots and records go."""
    backups = _in_process(engine, local_repo, password_file, tmp_path, f"retention-{unique_name}")
    sites = []
    for n in ("a", "b"):
        name = f"{unique_name}-{n}"
        engine.volumes.create(f"{name}-www")
        spec = ContainerSpec(image="dockerlink/base:latest", cmd=("sleep", "600"), volumes={f"{name}-www": "/var/www"})
        cid, _ = engine.containers.create(spec, name=name)
        sites.append(engine.containers.inspect(cid))
    taken = {c.name: [backups.take_now(c, "manual").backup for _ in range(2 if c is sites[0] else 3)] for c in sites}

    gone = backups.restic.forget(keep_daily=1, keep_weekly=0, keep_monthly=0)
    assert sorted(gone) == sorted(taken[sites[0].name][:-1] + taken[sites[1].name][:-1])
    for c in sites:
        assert [b["backup"] for b in backups.list(c.name)] == [taken[c.name][-1]]
    mine = [s for s in _snapshots(local_repo, password_file) if s["hostname"] == f"retention-{unique_name}"]
    assert sorted(t for s in mine for t in s["tags"] if t.startswith("dockerlink-backup=")) == sorted(
        f"dockerlink-backup={taken[c.name][-1]}" for c in sites
    )
    with pytest.raises(ValueError):
        backups.restic.forget(keep_daily=0, keep_weekly=0, keep_monthly=0)

    # A remote engine's way (no host path): the engine's stream on restic's stdin, read
    # back as the same checked zstd tar of www/.
    engine_sh = "mkdir -p /var/www/html && printf hi > /var/www/html/index.html"
    engine.containers.start(sites[0].id)
    _sh(engine, sites[0].id, engine_sh)
    backups.restic.local = False
    streamed = backups.take_now(sites[0], "manual")
    assert (streamed.source, streamed.path) == ("stream", f"/{sites[0].name}.tar")
    with backups.restic.materialized(streamed) as m:
        data = m.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == m.sha256 and len(data) == m.size
        assert check_members(io.BytesIO(data), 2**30).members >= 3
        plain = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
        with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
            assert tar.extractfile("www/html/index.html").read() == b"hi"
    assert not m.path.exists()
    for c in sites:
        engine.containers.remove(c.id, force=True)
        engine.volumes.remove(f"{c.name}-www")


def test_a_remote_repository_served_by_rclone(engine, tmp_path, unique_name, rclone_repo, password_file):
    """The REST backend, and `backup_target=restic` the default (the backup before a
    delete too); the repository then unreachable: backup_failed with the reason, the site
    untouched."""
    (tmp_path / "svc").mkdir()
    with live_service(
        tmp_path / "svc",
        publish_ip="127.0.0.1",
        port_area_size="500",
        restic_repository=rclone_repo,
        restic_password_file=str(password_file),
        backup_target="restic",
    ) as s:
        cid = _create(s, unique_name, ROOTS["remote"])
        _sh(engine, cid, POPULATE)
        before = _sh(engine, cid, MANIFEST)
        record = _backup(s, unique_name, cid)
        assert (record["state"], record["target"]) == ("done", "restic"), record
        _sh(engine, cid, CHANGE)
        r = s.request("POST", "/v1/container/restore", params={"id": cid, "backup": record["backup"]})
        assert r.status_code == 200, r.text
        assert _sh(engine, cid, MANIFEST) == _as_site_user(before)
        assert [x["short_id"] for x in _snapshots(rclone_repo, password_file)] == [record["snapshot"]]
        assert s.request("DELETE", "/v1/container", params={"id": cid}).status_code == 204
        [final] = s.get("/v1/container/backups", params={"name": unique_name}).json()["backups"][:1]
        assert (final["kind"], final["target"], final["state"]) == ("final", "restic", "done")

    (tmp_path / "down").mkdir()
    held = socket.socket()  # bound, never listening: a connection to it is refused
    held.bind(("127.0.0.1", 0))
    closed = f"rest:http://127.0.0.1:{held.getsockname()[1]}/"
    with (
        held,
        live_service(
            tmp_path / "down",
            publish_ip="127.0.0.1",
            port_area_size="500",
            restic_repository=closed,
            restic_password_file=str(password_file),
        ) as s,
    ):
        cid = _create(s, unique_name + "-u", ROOTS["unreachable"])
        _sh(engine, cid, "printf v1 > /var/www/html/index.html")
        now = _sh(engine, cid, MANIFEST)
        record = _backup(s, unique_name + "-u", cid, target="restic")
        assert record["state"] == "failed", record
        assert record["error"].startswith("restic: ") and "connection refused" in record["error"], record
        assert closed not in record["error"]
        failed = wait_until(
            lambda: s.get("/v1/events", params={"type": "backup_failed", "id": cid}).json()["events"],
            20,
            "backup_failed in /v1/events",
        )
        assert failed[0]["detail"]["error"] == record["error"]
        assert engine.containers.inspect(cid).running and _sh(engine, cid, MANIFEST) == now
        r = s.request("POST", "/v1/container/backup", params={"id": cid, "target": "tape"})
        assert r.status_code == 400 and r.text.startswith("target: "), r.text
        s.request("DELETE", "/v1/container", params={"id": cid, "deletevolume": "true"})


def _damage_big_data_blobs(repo: str, password_file: Path, least: int) -> int:
    """Flip a byte in the middle of every data blob of at least `least` bytes, in the pack
    files themselves; how many."""
    damaged = 0
    for index in _restic(repo, password_file, "list", "index").stdout.split():
        for pack in json.loads(_restic(repo, password_file, "cat", "index", index).stdout)["packs"]:
            path = Path(repo) / "data" / pack["id"][:2] / pack["id"]
            for b in pack["blobs"]:
                if b["type"] == "data" and b["length"] >= least:
                    path.chmod(0o600)
                    with open(path, "r+b") as f:
                        f.seek(b["offset"] + b["length"] // 2)
                        byte = f.read(1)
                        f.seek(-1, os.SEEK_CUR)
                        f.write(bytes([byte[0] ^ 0xFF]))
                    damaged += 1
    return damaged


def test_a_restic_restore_streams_the_dump_and_a_dump_failing_midway_leaves_the_site_as_it_was(
    engine, unique_name, password_file, tmp_path
):
    """Issue 27: a restore reads `restic dump` straight into the staging directory, and
    swaps only once restic exited 0. In this process against a repository of its own: the
    remote engine's way (a `stream` backup, restored through the engine's archive endpoint
    and the helper containers) gives the site back; then one data blob of the site's last
    file is damaged in the repository (restic authenticates every blob it reads): the dump
    fails after the files before it were written, and the site keeps its files, running."""
    from dockerlink.backups import Restorer
    from dockerlink.errors import BackupFailed

    repo = str(tmp_path / "repo")
    assert _restic(repo, password_file, "init").returncode == 0
    backups = _in_process(engine, repo, password_file, tmp_path, f"dump-{unique_name}")
    restorer = Restorer(engine, backups.catalog, backups.config)
    volume = f"{unique_name}-www"
    engine.volumes.create(volume)
    stops = ("sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait")  # at once: a restore stops the site
    spec = ContainerSpec(image="dockerlink/base:latest", cmd=stops, volumes={volume: "/var/www"})
    cid, _ = engine.containers.create(spec, name=unique_name)
    try:
        engine.containers.start(cid)
        _sh(engine, cid, "mkdir -p /var/www/html && printf v1 > /var/www/html/index.html")
        _sh(engine, cid, "head -c 3000000 /dev/urandom > /var/www/html/zz.bin && ln -s index.html /var/www/html/l")
        before = _sh(engine, cid, MANIFEST)
        c = engine.containers.inspect(cid)

        # The remote engine's way, end to end.
        backups.restic.local = False
        streamed = backups.take_now(c, "manual")
        assert streamed.source == "stream"
        _sh(engine, cid, "cd /var/www/html && printf changed > index.html && rm zz.bin && printf new > added.txt")
        restorer.volumes.directory = lambda name: None  # as with a remote engine: no host path
        assert restorer.restore(c, streamed.backup) is True
        assert _sh(engine, cid, MANIFEST) == _as_site_user(before)
        assert not list((tmp_path / "backups" / unique_name).glob(".*restic"))  # nothing written out

        # A host path's backup, one blob of its last file damaged: the dump fails midway.
        backups.restic.local = True
        del restorer.volumes.directory
        files = backups.take_now(c, "manual")
        assert files.source == "files"
        assert _damage_big_data_blobs(repo, password_file, 100_000) >= 1  # zz.bin's: only it is that big
        _sh(engine, cid, "printf v2 > /var/www/html/index.html")
        changed = _sh(engine, cid, MANIFEST)
        with pytest.raises(BackupFailed) as failed:
            restorer.restore(c, files.backup)
        message = str(failed.value)
        assert message.startswith(
            f"restore of {unique_name} from {files.backup} failed, the site is unchanged: restic: "
        )
        assert "\n" not in message and repo not in message, message
        assert engine.containers.inspect(cid).running
        assert _sh(engine, cid, MANIFEST) == changed
        assert _sh(engine, cid, "ls -A /var/www") == b"html\n"  # no staging directory left
        assert not list((tmp_path / "backups" / ".restores").glob("*.json"))
    finally:
        engine.containers.remove(cid, force=True)
        engine.volumes.remove(volume)
