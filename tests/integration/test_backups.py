"""Backups and restore on the real engine (SPEC §6.3): files of every kind survive a
backup and a restore byte for byte, owner and mode; a restore replaces the whole tree; an
upload moves a site to another service instance; a restore killed half-way leaves the old
tree or the new one, never a mix."""

from __future__ import annotations

import os
import signal
import time

import pytest

from dockerlink.engine import Engine

from .live import live_service, wait_until

TOKEN = "backups-test-token-0123456789"

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
    with live_service(
        tmp_path_factory.mktemp("bsvc"), backup_dir=str(backup_root), publish_ip="127.0.0.1", port_area_size="500"
    ) as s:
        yield s


def _create(service, name: str, root: int) -> str:
    r = service.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={"name": name, "host_port_root": root, "memory": 0.5, "cpulimit": 1},
    )
    assert r.status_code in (200, 201), r.text
    return r.json()["Id"]


def test_backup_then_restore_brings_back_exactly_the_tree(engine, bservice, unique_name):
    cid = _create(bservice, unique_name, 51000)
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
    assert _sh(engine, cid, MANIFEST) == before

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
        other = _create(second, other_name, 51500)
        up = second.request("PUT", "/v1/container/backup", params={"name": other_name}, data=body)
        assert up.status_code == 201, up.text
        assert up.json()["sha256"] == record["sha256"]
        corrupt = second.request("PUT", "/v1/container/backup", params={"name": other_name}, data=body[:100_000])
        assert corrupt.status_code == 400
        r = second.request("POST", "/v1/container/restore", params={"id": other, "backup": up.json()["backup"]})
        assert r.status_code == 200, r.text
        assert _sh(engine, other, MANIFEST) == before


def test_a_restore_killed_half_way_leaves_the_old_tree_or_the_new_one(engine, tmp_path, unique_name, backup_root):
    (tmp_path / "svc").mkdir()
    with live_service(tmp_path / "svc", backup_dir=str(backup_root), publish_ip="127.0.0.1", port_area_size="500") as s:
        cid = _create(s, unique_name, 52000)
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
    assert after in (old, changed)


def _quiet(fn, *args, **kw):  # noqa: ANN001, ANN002, ANN003
    try:
        fn(*args, **kw)
    except Exception:  # noqa: BLE001 - the service is killed under this request
        pass


def test_the_next_owner_of_a_reused_name_gets_nothing_of_the_previous_ones(engine, tmp_path, unique_name):
    """Issue 29: site deleted (its final backup taken), created again under the same name, a
    scoped token for the new container: neither the old container's events nor its backup.
    The panel brings the deleted site's files back only by naming the source (`from`)."""
    (tmp_path / "reuse").mkdir()
    with live_service(
        tmp_path / "reuse",
        api_token=TOKEN,
        publish_ip="127.0.0.1",
        port_area_size="500",
        backup_dir=str(tmp_path / "reuse-backups"),
    ) as s:
        cid = _create(s, unique_name, 53500)
        _sh(
            engine,
            cid,
            "mkdir -p /var/www/html && printf 's3cret' > /var/www/html/secret.txt"
            " && chown 1000 /var/www/html/secret.txt",
        )
        assert s.request("DELETE", "/v1/container", params={"id": cid}).status_code == 204
        [final] = s.get("/v1/container/backups", params={"name": unique_name}).json()["backups"]
        assert (final["kind"], final["state"], final["container"]) == ("final", "done", cid)
        # Its end, handed off by the worker, is journaled by the collector within a second or so.
        done = wait_until(lambda: _events(s, "backup_done", cid), 20, "backup_done in /v1/events")
        assert done[0]["detail"] == {k: final[k] for k in ("backup", "kind", "size", "sha256")}

        again = _create(s, unique_name, 53500)
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
        r = s.request(
            "POST", "/v1/container/restore", params={"id": again, "backup": final["backup"], "from": unique_name}
        )
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
        r = s.request(
            "PUT",
            "/v1/container",
            params={"start": "true"},
            json={"name": unique_name, "host_port_root": 53000, "memory": 0.5, "cpulimit": 1, "disk": 0.01},
        )
        assert r.status_code == 200, r.text
        cid = r.json()["Id"]
        _sh(engine, cid, "head -c 20000000 /dev/urandom > /var/www/fill.bin")
        deadline = time.monotonic() + 30
        while not (over := _events(s, "disk_over", cid)):
            assert time.monotonic() < deadline, "no disk_over in /v1/events within 30 s"
            time.sleep(0.5)
        assert over[0]["name"] == unique_name and over[0]["detail"]["quota"] == 0.01
        entry = s.get("/v1/container", params={"id": cid}).json()["success"][cid]
        assert entry["disk"]["used"] > 0.01 and entry["disk"]["files"] >= 1
