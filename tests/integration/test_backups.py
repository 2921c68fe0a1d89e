"""Backups and restore on the real engine (docs/contract.md §6.3): files of every kind survive a
backup and a restore byte for byte and mode, owned by the site user; a restore replaces the
whole tree; an upload moves a site to another service instance; a restore killed half-way
leaves the old tree or the new one, never a mix. A restore that fails in the request (a
tampered archive, a changed sha256, a damaged member, the engine refusing, past the size
cap) leaves the site exactly as it was, running; an archive cannot write outside the tree
or hand out root's files; a zero bomb is restored with a flat worker."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import tarfile
import time

import pytest
import zstandard

from dockerlink.backups import Catalog, Record
from dockerlink.engine import Engine

from .live import live_service, wait_until, workers_peak_rss_mib

TOKEN = "backups-test-token-0123456789"

#: Each test's port area (size 500): below the host's ephemeral range (32768-60999), where an
#: outgoing connection could hold a site's port (a 409 "already in use"), and clear of the
#: other modules' areas.
ROOTS = {
    "roundtrip": 4000,
    "second": 4500,
    "killed": 5000,
    "deleted": 5500,
    "quota": 6000,
    "tampered": 6500,
    "abandon": 7000,
    "refused": 3000,
    "outside": 7500,
    "bomb": 8500,
    "bomb-quota": 9000,
    "links": 8000,
}
SITE_USER = "1000:1000"  # admin in the base image

# Every kind of file: a symlink (absolute and dangling), an empty dir, a 0600 file owned by
# uid 1000, a big file, names with spaces and UTF-8, a hard link, a dotfile.
POPULATE = r"""
set -e
cd /var/www
mkdir -p html/empty "html/with space" "html/été"
printf 'hello\n' > html/index.html
printf 'secret' > html/secret.txt && chown 1000:1000 html/secret.txt && chmod 0600 html/secret.txt
ln -s index.html html/link && ln -s /nonexistent html/dangling
ln html/index.html html/hard
printf 'x' > "html/with space/a b.txt"; printf 'y' > "html/été/ça.txt"; printf 'z' > html/.hidden
head -c 50000000 /dev/urandom > html/big.bin
chown -R 1000:1000 "html/été"; chmod 0750 html/empty
"""
CHANGE = r"""
set -e
cd /var/www
printf 'changed' > html/index.html
rm -rf "html/with space" && printf 'new' > html/added.txt && mkdir html/newdir
chmod 0644 html/secret.txt
"""
MANIFEST = r"""
cd /var/www && find . -printf '%p\t%y\t%m\t%U:%G\t%l\n' | sort
find . -type f -exec sha256sum {} + | sort
"""


def _as_site_user(manifest: bytes) -> bytes:
    """A MANIFEST with every entry owned by the site user, as a restore writes it."""
    lines = []
    for line in manifest.split(b"\n"):
        fields = line.split(b"\t")
        if len(fields) == 5:
            fields[3] = SITE_USER.encode()
        lines.append(b"\t".join(fields))
    return b"\n".join(lines)


def _sh(engine: Engine, ref: str, script: str) -> str:
    result = engine.execs.run(ref, ["sh", "-c", script], timeout=120)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _wait_backup(service, name: str, backup: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = service.get("/v1/container/backups", params={"name": name})
        assert r.status_code == 200, r.text
        record = next(b for b in r.json()["backups"] if b["backup"] == backup)
        if record["state"] != "running":
            return record
        time.sleep(0.3)
    raise AssertionError("backup still running after 120 s")


def _events(service, type_: str, cid: str) -> list[dict]:
    r = service.get("/v1/events", params={"type": type_, "id": cid, "limit": "1000"})
    assert r.status_code == 200, r.text
    return r.json()["events"]


@pytest.fixture(scope="module")
def backup_root(tmp_path_factory):
    return tmp_path_factory.mktemp("backups")


@pytest.fixture(scope="module")
def bservice(engine, tmp_path_factory, backup_root):
    """The module's service; with a token, so that scoped tokens can be issued (its session
    sends the token on every call)."""
    with live_service(
        tmp_path_factory.mktemp("bsvc"),
        api_token=TOKEN,
        backup_dir=str(backup_root),
        publish_ip="127.0.0.1",
        port_area_size="500",
    ) as s:
        yield s


def _create(service, name: str, root: int, **more) -> str:  # noqa: ANN003
    r = service.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={"name": name, "host_port_root": root, "memory": 0.5, "cpulimit": 1, **more},
    )
    assert r.status_code in (200, 201), r.text
    return r.json()["Id"]


def test_backup_then_restore_brings_back_exactly_the_tree(engine, bservice, unique_name):
    cid = _create(bservice, unique_name, ROOTS["roundtrip"])
    _sh(engine, cid, POPULATE)
    before = _sh(engine, cid, MANIFEST)

    r = bservice.request("POST", "/v1/container/backup", params={"id": cid})
    assert r.status_code == 202, r.text
    record = _wait_backup(bservice, unique_name, r.json()["backup"])
    assert record["state"] == "done", record
    assert record["size"] > 50_000_000 and len(record["sha256"]) == 64

    _sh(engine, cid, CHANGE)
    assert _sh(engine, cid, MANIFEST) != before
    r = bservice.request("POST", "/v1/container/restore", params={"id": cid, "backup": record["backup"]})
    assert r.status_code == 200, r.text
    assert r.json()["running"] is True
    assert engine.containers.inspect(cid).running
    assert _sh(engine, cid, MANIFEST) == _as_site_user(before)

    # Download it, upload it to a second instance (another host's agent), restore it there.
    d = bservice.get("/v1/container/backup", params={"name": unique_name, "backup": record["backup"]}, stream=True)
    assert d.status_code == 200
    assert int(d.headers["Content-Length"]) == record["size"]
    assert d.headers["X-Backup-Sha256"] == record["sha256"]
    body = d.content
    other_name = unique_name + "-b"
    (bservice.log.parent / "second").mkdir()
    with live_service(
        bservice.log.parent / "second",
        publish_ip="127.0.0.1",
        port_area_size="500",
        backup_dir=str(bservice.log.parent / "second-backups"),
    ) as second:
        other = _create(second, other_name, ROOTS["second"])
        up = second.request("PUT", "/v1/container/backup", params={"name": other_name}, data=body)
        assert up.status_code == 201, up.text
        assert up.json()["sha256"] == record["sha256"]
        corrupt = second.request("PUT", "/v1/container/backup", params={"name": other_name}, data=body[:100_000])
        assert corrupt.status_code == 400
        r = second.request("POST", "/v1/container/restore", params={"id": other, "backup": up.json()["backup"]})
        assert r.status_code == 200, r.text
        assert _sh(engine, other, MANIFEST) == _as_site_user(before)


def test_a_restore_killed_half_way_leaves_the_old_tree_or_the_new_one(engine, tmp_path, unique_name, backup_root):
    (tmp_path / "svc").mkdir()
    with live_service(tmp_path / "svc", backup_dir=str(backup_root), publish_ip="127.0.0.1", port_area_size="500") as s:
        cid = _create(s, unique_name, ROOTS["killed"])
        _sh(engine, cid, POPULATE)
        old = _sh(engine, cid, MANIFEST)
        backup = s.request("POST", "/v1/container/backup", params={"id": cid}).json()["backup"]
        assert _wait_backup(s, unique_name, backup)["state"] == "done"
        _sh(engine, cid, CHANGE)
        changed = _sh(engine, cid, MANIFEST)
        journal = backup_root / ".restores" / f"{cid}.json"
        import threading

        threading.Thread(
            target=lambda: _quiet(s.request, "POST", "/v1/container/restore", params={"id": cid, "backup": backup}),
            daemon=True,
        ).start()
        # Kill once the engine is writing the archive into the staging directory.
        staging = engine.volumes.inspect(f"dockerlink-{unique_name}-www").mountpoint + "/.dockerlink-restore/www/html"
        deadline = time.monotonic() + 60
        while not (os.path.isdir(staging) and len(os.listdir(staging)) > 1):
            assert time.monotonic() < deadline, "the restore never started extracting"
            time.sleep(0.01)
        os.killpg(s.process.pid, signal.SIGKILL)
        s.process.wait()
    assert not engine.containers.inspect(cid).running  # stopped for the restore, and left so
    (tmp_path / "svc2").mkdir()
    with live_service(tmp_path / "svc2", backup_dir=str(backup_root), publish_ip="127.0.0.1", port_area_size="500"):
        deadline = time.monotonic() + 60
        while journal.exists():
            assert time.monotonic() < deadline, "the interrupted restore was not recovered"
            time.sleep(0.2)
        assert engine.containers.inspect(cid).running
        after = _sh(engine, cid, MANIFEST)
    assert after in (_as_site_user(old), changed)


def _quiet(fn, *args, **kw):  # noqa: ANN001, ANN002, ANN003
    try:
        fn(*args, **kw)
    except Exception:  # noqa: BLE001 - the service is killed under this request
        pass


def test_the_next_owner_of_a_reused_name_gets_nothing_of_the_previous_ones(engine, bservice, unique_name):
    """Issue 29: site deleted (its final backup taken), created again under the same name, a
    scoped token for the new container: neither the old container's events nor its backup.
    The panel brings the deleted site's files back only by naming the source (`from`)."""
    s = bservice
    cid = _create(s, unique_name, ROOTS["deleted"])
    _sh(
        engine,
        cid,
        "mkdir -p /var/www/html && printf 's3cret' > /var/www/html/secret.txt && chown 1000 /var/www/html/secret.txt",
    )
    assert s.request("DELETE", "/v1/container", params={"id": cid}).status_code == 204
    [final] = s.get("/v1/container/backups", params={"name": unique_name}).json()["backups"]
    assert (final["kind"], final["state"], final["container"]) == ("final", "done", cid)
    # Its end, handed off by the worker, is journaled by the collector within a second or so.
    done = wait_until(lambda: _events(s, "backup_done", cid), 20, "backup_done in /v1/events")
    assert done[0]["detail"] == {k: final[k] for k in ("backup", "kind", "size", "sha256")}

    again = _create(s, unique_name, ROOTS["deleted"])
    assert again != cid
    assert _sh(engine, again, "ls /var/www/html") == b""
    wait_until(lambda: _events(s, "created", again), 20, "the new container's created in /v1/events")
    r = s.request("POST", "/v1/token", json={"id": unique_name, "scopes": ["events", "backup"]})
    assert r.status_code == 200, r.text
    scoped = {"Authorization": f"Bearer {r.json()['token']}"}

    # Events: the new container's only, by default, by name, by full id; the old one's: 403.
    for params in ({}, {"id": unique_name}, {"id": again}):
        r = s.get("/v1/events", params={"since": "0", "limit": "1000", **params}, headers=scoped)
        assert r.status_code == 200, r.text
        events = r.json()["events"]
        assert "created" in [e["type"] for e in events] and {e["id"] for e in events} == {again}, params
        assert final["backup"] not in r.text
    assert s.get("/v1/events", params={"id": cid}, headers=scoped).status_code == 403
    # The panel's too, by the name: the container that has it now.
    r = s.get("/v1/events", params={"since": "0", "limit": "1000", "id": unique_name})
    assert {e["id"] for e in r.json()["events"]} == {again}

    # Backups: the old one is not the new container's. A scoped token: 403, from= or not.
    for params in ({}, {"from": unique_name}):
        r = s.request(
            "POST",
            "/v1/container/restore",
            params={"id": unique_name, "backup": final["backup"], **params},
            headers=scoped,
        )
        assert r.status_code == 403, r.text
    assert _sh(engine, again, "ls -A /var/www/html") == b""  # the secret is absent
    assert s.get("/v1/container/backups", params={"id": unique_name}).json()["backups"] == []
    # The panel without from: refused, saying how; with it: the deleted site's files are back.
    r = s.request("POST", "/v1/container/restore", params={"id": again, "backup": final["backup"]})
    assert r.status_code == 409 and f"from={unique_name}" in r.text
    assert _sh(engine, again, "ls -A /var/www/html") == b""
    r = s.request("POST", "/v1/container/restore", params={"id": again, "backup": final["backup"], "from": unique_name})
    assert r.status_code == 200, r.text
    assert _sh(engine, again, "stat -c '%u %n' /var/www/html/secret.txt; cat /var/www/html/secret.txt") == (
        b"1000 /var/www/html/secret.txt\ns3cret"
    )


def test_a_site_over_its_disk_quota_raises_disk_over(engine, tmp_path, unique_name):
    (tmp_path / "q").mkdir()
    with live_service(
        tmp_path / "q",
        publish_ip="127.0.0.1",
        port_area_size="500",
        disk_interval="5",
        stats_interval="10",
        backup_dir=str(tmp_path / "qb"),
        DOCKERLINK_LOGLEVEL="info",
    ) as s:
        cid = _create(s, unique_name, ROOTS["quota"], disk=0.01)
        _sh(engine, cid, "head -c 20000000 /dev/urandom > /var/www/fill.bin")
        deadline = time.monotonic() + 30
        while not (over := _events(s, "disk_over", cid)):
            assert time.monotonic() < deadline, "no disk_over in /v1/events within 30 s"
            time.sleep(0.5)
        assert over[0]["name"] == unique_name and over[0]["detail"]["quota"] == 0.01
        entry = s.get("/v1/container", params={"id": cid}).json()["success"][cid]
        assert entry["disk"]["used"] > 0.01 and entry["disk"]["files"] >= 1


# -- a restore that fails, or must not do what an archive says ------------------------------

MIB = 2**20


def _tar(*members: tuple[str, bytes | str | None, int, int]) -> bytes:
    """A plain tar of (name, data: bytes for a file, None for a directory, str for a
    symlink's target, mode, uid)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode, uid in members:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = mode, uid, uid, 1_700_000_000
            if data is None:
                info.type = tarfile.DIRTYPE
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
            else:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if isinstance(data, bytes) else None)
    return buf.getvalue()


def _zst(plain: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(plain)


def _plant(backup_root, name: str, cid: str, compressed: bytes, read: int = 0) -> str:  # noqa: ANN001
    """An archive in the service's catalog as if it had got there (an upload before the
    upload checks, a copied file): the restore's own checks are all that stands."""
    from dockerlink.backups.catalog import new_backup_id

    catalog = Catalog(backup_root)
    catalog.site_dir(name, create=True)
    backup = new_backup_id()
    catalog.archive_path(name, backup).write_bytes(compressed)
    sha = hashlib.sha256(compressed).hexdigest()
    record = Record(backup=backup, name=name, kind="uploaded", state="done", started=time.time(), container=cid)
    record.size, record.sha256, record.read, record.finished = len(compressed), sha, read, time.time()
    catalog.save(record)
    return backup


def _restore(service, cid: str, backup: str):  # noqa: ANN001, ANN202
    return service.request("POST", "/v1/container/restore", params={"id": cid, "backup": backup})


def _backup(service, name: str, cid: str) -> dict:  # noqa: ANN001
    r = service.request("POST", "/v1/container/backup", params={"id": cid})
    assert r.status_code == 202, r.text
    record = _wait_backup(service, name, r.json()["backup"])
    assert record["state"] == "done", record
    return record


def _as_it_was(engine: Engine, cid: str, manifest: bytes, backup_root) -> None:  # noqa: ANN001
    """Running, the same files (no staging directory either: MANIFEST lists /var/www whole),
    no journal entry, no helper container left."""
    assert engine.containers.inspect(cid).running
    assert _sh(engine, cid, MANIFEST) == manifest
    assert not (backup_root / ".restores" / f"{cid}.json").exists()
    assert not engine.containers.list(all=True, filters={"label": [f"dockerlink.restore={cid}"]})


def _edit_record(backup_root, name: str, backup: str, **changes) -> None:  # noqa: ANN001, ANN003
    path = backup_root / name / f"{backup}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_a_tampered_archive_or_a_changed_sha256_fails_and_leaves_the_site_as_it_was(
    engine, bservice, unique_name, backup_root
):
    cid = _create(bservice, unique_name, ROOTS["tampered"])
    _sh(engine, cid, "head -c 300000 /dev/urandom > /var/www/html/media.bin && printf v1 > /var/www/html/index.html")
    backup = _backup(bservice, unique_name, cid)["backup"]
    _sh(engine, cid, "printf v2 > /var/www/html/index.html")
    now = _sh(engine, cid, MANIFEST)

    # One byte flipped half-way: inside the random file, stored raw by zstd, so only the
    # sha256 can tell.
    path = backup_root / unique_name / f"{backup}.tar.zst"
    original = path.read_bytes()
    at = len(original) // 2
    path.write_bytes(original[:at] + bytes([original[at] ^ 0xFF]) + original[at + 1 :])
    r = _restore(bservice, cid, backup)
    assert r.status_code == 502 and "sha256" in r.text, r.text
    _as_it_was(engine, cid, now, backup_root)

    path.write_bytes(original)
    recorded = json.loads((backup_root / unique_name / f"{backup}.json").read_text())["sha256"]
    _edit_record(backup_root, unique_name, backup, sha256=hashlib.sha256(b"another archive").hexdigest())
    r = _restore(bservice, cid, backup)
    assert r.status_code == 502 and "sha256" in r.text, r.text
    _as_it_was(engine, cid, now, backup_root)

    _edit_record(backup_root, unique_name, backup, sha256=recorded)
    assert _restore(bservice, cid, backup).status_code == 200
    assert _sh(engine, cid, "cat /var/www/html/index.html") == b"v1"


def _damaged_after_good_members() -> bytes:
    plain = bytearray(_tar(*GOOD_MEMBERS, ("www/html/c.txt", b"c", 0o644, 0)))
    header = plain.index(b"www/html/c.txt\0")
    assert header % 512 == 0
    plain[header + 148 : header + 156] = b"0000000\0"  # a wrong header checksum
    return _zst(bytes(plain))


#: 4 MiB of good members first: the engine has extracted them when the stream goes wrong.
GOOD_MEMBERS = (
    ("www", None, 0o755, 1000),
    ("www/html", None, 0o755, 1000),
    ("www/html/a.bin", os.urandom(3 * MIB), 0o644, 1000),
    ("www/html/b.bin", os.urandom(MIB), 0o644, 1000),
)


@pytest.mark.parametrize("failure", ["a damaged member", "the engine refusing"])
def test_a_restore_failing_part_way_rolls_back(engine, bservice, unique_name, backup_root, failure):
    cid = _create(bservice, unique_name, ROOTS["abandon" if failure == "a damaged member" else "refused"])
    _sh(engine, cid, "printf before > /var/www/html/index.html")
    now = _sh(engine, cid, MANIFEST)
    if failure == "a damaged member":
        backup = _plant(backup_root, unique_name, cid, _damaged_after_good_members())
    else:  # a file under a.bin, a regular file: the upload's checks pass it, the engine cannot
        archive = _zst(_tar(*GOOD_MEMBERS, ("www/html/a.bin/x", b"x", 0o644, 1000)))
        up = bservice.request("PUT", "/v1/container/backup", params={"name": unique_name}, data=archive)
        assert up.status_code == 201, up.text
        backup = up.json()["backup"]
    r = _restore(bservice, cid, backup)
    assert r.status_code == 502, r.text
    assert r.text.startswith(f"restore of {unique_name} from {backup} failed, the site is unchanged: ")
    _as_it_was(engine, cid, now, backup_root)
    bservice.request("DELETE", "/v1/container", params={"id": cid, "deletevolume": "true"})


def test_an_upload_sent_chunked_is_capped_while_it_streams(tmp_path, unique_name):
    """No Content-Length: only the cap applied while the body streams in can refuse it."""
    (tmp_path / "svc").mkdir()
    with live_service(tmp_path / "svc", backup_max="0.001", publish_ip="127.0.0.1", port_area_size="500") as s:
        big = _zst(_tar(("www", None, 0o755, 1000), ("www/media.bin", os.urandom(3 * MIB), 0o644, 1000)))
        assert len(big) > 0.001 * 2**30

        def chunked(data: bytes):  # noqa: ANN202
            for i in range(0, len(data), 64 * 1024):
                yield data[i : i + 64 * 1024]

        r = s.request("PUT", "/v1/container/backup", params={"name": unique_name}, data=chunked(big))
        assert r.request.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in r.request.headers
        assert r.status_code == 413, r.text
        assert not list((tmp_path / "svc" / "backups" / unique_name).glob("*.zst*"))
        assert s.get("/v1/container/backups", params={"name": unique_name}).json()["backups"] == []

        small = _zst(_tar(("www", None, 0o755, 1000), ("www/index.html", b"hi", 0o644, 1000)))
        r = s.request("PUT", "/v1/container/backup", params={"name": unique_name}, data=chunked(small))
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == hashlib.sha256(small).hexdigest()


def test_an_archive_cannot_write_outside_the_tree_nor_restore_root_or_setuid_files(
    engine, bservice, unique_name, backup_root
):
    cid = _create(bservice, unique_name, ROOTS["outside"])
    # Root's setuid and setgid files and a root-owned 4777 www: accepted, restored as admin's.
    archive = _zst(
        _tar(
            ("www", None, 0o4777, 0),
            ("www/html", None, 0o755, 0),
            ("www/html/tool", b"#!/bin/sh\nid\n", 0o4755, 0),
            ("www/html/group", b"x", 0o2750, 0),
            ("www/html/tmp", None, 0o1777, 0),
        )
    )
    up = bservice.request("PUT", "/v1/container/backup", params={"name": unique_name}, data=archive)
    assert up.status_code == 201, up.text
    r = _restore(bservice, cid, up.json()["backup"])
    assert r.status_code == 200, r.text
    assert _sh(engine, cid, "cd /var/www && stat -c '%a %u:%g %n' . html/tool html/group html/tmp") == (
        b"777 1000:1000 .\n755 1000:1000 html/tool\n750 1000:1000 html/group\n777 1000:1000 html/tmp\n"
    )

    # Through symlinks to /etc and /root: refused at upload, and at restore when it is in
    # the catalog anyway; nothing lands in /etc or /root, the site is as it was.
    now = _sh(engine, cid, MANIFEST)
    evil = _zst(
        _tar(
            ("www", None, 0o755, 1000),
            ("www/lnk", "/etc", 0o777, 1000),
            ("www/lnk/dockerlink-pwned", b"pwned", 0o644, 0),
            ("www/r", "/root", 0o777, 1000),
            ("www/r/.ssh", None, 0o700, 0),
            ("www/r/.ssh/authorized_keys", b"ssh-ed25519 AAAA attacker", 0o600, 0),
        )
    )
    up = bservice.request("PUT", "/v1/container/backup", params={"name": unique_name}, data=evil)
    assert up.status_code == 400 and "below a symbolic link" in up.text, up.text
    r = _restore(bservice, cid, _plant(backup_root, unique_name, cid, evil))
    assert r.status_code == 502 and "below a symbolic link" in r.text, r.text
    assert _sh(engine, cid, "ls -A /etc/dockerlink-pwned /root/.ssh 2>&1; true") == (
        b"ls: cannot access '/etc/dockerlink-pwned': No such file or directory\n"
        b"ls: cannot access '/root/.ssh': No such file or directory\n"
    )
    _as_it_was(engine, cid, now, backup_root)


def test_a_zero_bomb_is_restored_with_a_flat_worker(engine, bservice, unique_name):
    cid = _create(bservice, unique_name, ROOTS["bomb"])
    _sh(engine, cid, "truncate -s 1G /var/www/html/zeros && printf v1 > /var/www/html/index.html")
    record = _backup(bservice, unique_name, cid)
    assert record["size"] < MIB and record["read"] > 2**30
    _sh(engine, cid, "rm /var/www/html/zeros && printf v2 > /var/www/html/index.html")
    r = _restore(bservice, cid, record["backup"])
    assert r.status_code == 200, r.text
    assert _sh(engine, cid, "stat -c %s /var/www/html/zeros; cat /var/www/html/index.html") == b"1073741824\nv1"
    # A correctness bound, far from both sides: the workers measure about 50 MiB here; a
    # restore holding the expansion in memory took 2 GiB for this archive.
    peak = workers_peak_rss_mib(bservice.process.pid)
    assert 0 < peak < 300, f"a worker peaked at {peak:.0f} MiB"
    bservice.request("DELETE", "/v1/container", params={"id": cid, "deletevolume": "true"})


def test_a_restore_past_the_sites_disk_quota_is_refused_and_changes_nothing(engine, bservice, unique_name, backup_root):
    cid = _create(bservice, unique_name, ROOTS["bomb-quota"], disk=0.25)
    # 300 MiB of zeros: past the 256 MiB quota, by less to read and write than 512 MiB
    _sh(engine, cid, "truncate -s 300M /var/www/html/zeros && printf v1 > /var/www/html/index.html")
    backup = _backup(bservice, unique_name, cid)["backup"]
    _sh(engine, cid, "rm /var/www/html/zeros && printf v2 > /var/www/html/index.html")
    now = _sh(engine, cid, MANIFEST)

    r = _restore(bservice, cid, backup)  # its record says how big it expands: refused at once
    assert r.status_code == 413, r.text
    assert r.text == (
        f"restore of {unique_name} from {backup} refused: the archive expands past 268435456 bytes "
        "(the site's disk quota, 0.25 GiB)\n"
    )
    _as_it_was(engine, cid, now, backup_root)

    _edit_record(backup_root, unique_name, backup, read=0)  # one that does not: refused as it streams
    r = _restore(bservice, cid, backup)
    assert r.status_code == 413, r.text
    assert r.text == (
        f"restore of {unique_name} from {backup} refused, the site is unchanged: the archive expands past "
        "268435456 bytes (the site's disk quota, 0.25 GiB)\n"
    )
    _as_it_was(engine, cid, now, backup_root)
    bservice.request("DELETE", "/v1/container", params={"id": cid, "deletevolume": "true"})


def test_the_tenants_links_on_the_volume_are_never_followed_on_the_host(
    engine, bservice, unique_name, backup_root, tmp_path
):
    """With a local engine a backup reads, and a restore writes, the volume's directory on
    the host (issue 27), where an absolute link is the host's: `html/e -> /etc`, a link to
    a host directory, one where a directory was when the backup was taken, one where the
    restore stages. None is followed: the host's /etc and that directory stay as they were."""
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    (host_dir / "canary.txt").write_text("the host's only")
    mark = f"{unique_name}.txt"
    cid = _create(bservice, unique_name, ROOTS["links"])
    _sh(
        engine,
        cid,
        f"cd /var/www/html && ln -s /etc e && ln -s {host_dir} y && mkdir x && printf v1 > x/{mark}"
        " && printf v1 > index.html",
    )
    record = _backup(bservice, unique_name, cid)
    archive = backup_root / unique_name / f"{record['backup']}.tar.zst"
    with (
        open(archive, "rb") as f,
        tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(f), mode="r|") as tar,
    ):
        members = {m.name: (m.type, m.linkname) for m in tar}
    assert members["www/html/e"] == (tarfile.SYMTYPE, "/etc")
    assert members["www/html/y"] == (tarfile.SYMTYPE, str(host_dir))
    assert not [n for n in members if n.startswith(("www/html/e/", "www/html/y/"))]

    _sh(
        engine,
        cid,
        f"cd /var/www && printf v2 > html/index.html && rm -r html/x && ln -s /etc html/x"
        f" && ln -s {host_dir} .dockerlink-restore",
    )
    r = _restore(bservice, cid, record["backup"])
    assert r.status_code == 200, r.text
    assert _sh(engine, cid, f"cat /var/www/html/index.html /var/www/html/x/{mark}; ls -A /var/www") == b"v1v1html\n"
    assert not os.path.exists(f"/etc/{mark}")
    assert os.listdir(host_dir) == ["canary.txt"]
    bservice.request("DELETE", "/v1/container", params={"id": cid, "deletevolume": "true"})
