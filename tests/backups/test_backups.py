"""Backups without a daemon: paths never leave backup_dir, retention, upload checks and cap,
the final backup before a delete (and a delete that does nothing when it fails)."""

from __future__ import annotations

import dataclasses
import io
import tarfile
import time

import pytest
import zstandard
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.backups import Catalog, Record
from dockerlink.backups.archive import CorruptArchive, check_members
from dockerlink.backups.disk import Quotas
from dockerlink.backups.policy import Retention
from dockerlink.config import Config
from dockerlink.engine import ServerError
from dockerlink.errors import InvalidInput
from tests.fakes import FakeEngine, FakeStore
from tests.tarballs import tar_of

LABELS = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}


def _tar(*members: tuple[str, bytes | None], link: tuple[str, str] | None = None, device: str | None = None) -> bytes:
    extra = []
    if link:
        info = tarfile.TarInfo(link[0])
        info.type, info.linkname = tarfile.LNKTYPE, link[1]
        extra.append(info)
    if device:
        info = tarfile.TarInfo(device)
        info.type = tarfile.CHRTYPE
        extra.append(info)
    return zstandard.ZstdCompressor().compress(tar_of(*members, extra=extra))


GOOD = _tar(("www", None), ("www/html", None), ("www/html/index.html", b"hi"))


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../etc", "/abs", "-x", ""])
def test_a_site_name_that_could_leave_backup_dir_is_refused(tmp_path, name):
    with pytest.raises(InvalidInput):
        Catalog(tmp_path).site_dir(name)


@pytest.mark.parametrize("backup", ["../x", "20260101T000000Z-0123abcd/../..", "x", "20260101T000000Z-0123ABCD"])
def test_a_backup_id_that_is_not_one_is_refused(tmp_path, backup):
    with pytest.raises(InvalidInput):
        Catalog(tmp_path).archive_path("site1", backup)


def test_an_archive_is_accepted_only_if_every_member_stays_under_www():
    assert check_members(io.BytesIO(GOOD), 2**30).members == 3
    for bad in (
        _tar(("www", None), ("etc/passwd", b"x")),
        _tar(("www", None), ("www/../../x", b"x")),
        _tar(("www", None), link=("www/l", "etc/shadow")),
        _tar(("www", None), device="www/dev"),
        b"not zstd at all",
        GOOD[: len(GOOD) // 2],
    ):
        with pytest.raises(CorruptArchive):
            check_members(io.BytesIO(bad), 2**30)


def test_retention_keeps_the_newest_and_final_backups_for_their_days(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.site_dir("site1", create=True)
    now = time.time()
    for i in range(5):
        catalog.save(
            Record(
                backup=f"2026010{i + 1}T000000Z-0000000{i}",
                name="site1",
                kind="manual",
                state="done",
                started=now - 100 + i,
            )
        )
    catalog.save(
        Record(backup="20251201T000000Z-000000ff", name="site1", kind="final", state="done", started=now - 10 * 86400)
    )
    catalog.save(Record(backup="20251202T000000Z-000000fe", name="site1", kind="final", state="done", started=now))
    removed = catalog.prune("site1", Retention(last=2), deleted_days=7, now=now)
    assert sorted(removed) == ["20251201T000000Z-000000ff", *(f"2026010{i + 1}T000000Z-0000000{i}" for i in range(3))]
    assert [r.backup for r in catalog.records("site1")] == [
        "20251202T000000Z-000000fe",
        "20260104T000000Z-00000003",
        "20260105T000000Z-00000004",
    ]


@pytest.fixture
def engine() -> FakeEngine:
    e = FakeEngine()
    e.containers.add("site1", labels=LABELS, volumes={"/var/www": "dockerlink-site1-www"})
    return e


def _client(tmp_path, engine, **settings) -> TestClient:
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"), **settings)
    return TestClient(create_app(config, engine=engine, store=FakeStore()))


def test_an_upload_is_stored_listed_and_downloaded_byte_for_byte(tmp_path, engine):
    client = _client(tmp_path, engine)
    up = client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=GOOD)
    assert up.status_code == 201, up.text
    record = up.json
    listed = client.simulate_get("/v1/container/backups", params={"name": "site1"}).json["backups"]
    assert [b["backup"] for b in listed] == [record["backup"]]
    down = client.simulate_get("/v1/container/backup", params={"name": "site1", "backup": record["backup"]})
    assert down.content == GOOD
    assert down.headers["X-Backup-Sha256"] == record["sha256"]
    assert client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=b"junk").status_code == 400
    gone = client.simulate_delete("/v1/container/backup", params={"name": "site1", "backup": record["backup"]})
    assert gone.status_code == 204
    assert client.simulate_get("/v1/container/backups", params={"name": "site1"}).json["backups"] == []


def test_an_upload_over_backup_max_is_refused_while_it_streams(tmp_path, engine):
    client = _client(tmp_path, engine, backup_max=1000)
    big = _tar(("www", None), ("www/big", bytes(range(256)) * 40_000))
    assert len(big) > 1000
    r = client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=big)
    assert r.status_code == 413
    assert not list((tmp_path / "b" / "site1").glob("*.zst*"))


def test_an_upload_a_restore_would_refuse_is_refused_and_not_kept(tmp_path, engine):
    """A member through a symlink (400), or more plain bytes than restore_max_expanded (413)."""
    client = _client(tmp_path, engine, restore_max_expanded=100_000)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        root = tarfile.TarInfo("www")
        root.type = tarfile.DIRTYPE
        tar.addfile(root)
        link = tarfile.TarInfo("www/lnk")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(link)
        evil = tarfile.TarInfo("www/lnk/cron.d")
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"pwn"))
    through_link = zstandard.ZstdCompressor().compress(buf.getvalue())
    r = client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=through_link)
    assert r.status_code == 400
    assert r.text == "body: not a site backup: member below a symbolic link refused: 'www/lnk/cron.d'\n"

    zeros = _tar(("www", None), ("www/zeros", bytes(200_000)))
    assert len(zeros) < 1000
    r = client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=zeros)
    assert r.status_code == 413
    assert r.text == "body: the archive expands past 100000 bytes (restore_max_expanded)\n"
    assert not list((tmp_path / "b" / "site1").glob("*.zst*"))

    r = client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=GOOD)
    assert r.status_code == 201
    assert r.json["read"] == 10240  # 3 headers, 1 data block, the end: tarfile pads its output to 10240


def test_delete_takes_a_final_backup_listed_by_name_after_the_site_is_gone(tmp_path, engine):
    client = _client(tmp_path, engine)
    assert client.simulate_delete("/v1/container", params={"id": "site1"}).status_code == 204
    assert not engine.containers.by_id
    backups = client.simulate_get("/v1/container/backups", params={"name": "site1"}).json["backups"]
    assert [(b["kind"], b["state"]) for b in backups] == [("final", "done")]


def test_a_delete_whose_final_backup_fails_answers_502_and_deletes_nothing(tmp_path, engine):
    engine.containers.archive_error = ServerError(500, "archive failed")
    client = _client(tmp_path, engine)
    r = client.simulate_delete("/v1/container", params={"id": "site1"})
    assert r.status_code == 502
    assert len(engine.containers.by_id) == 1


def test_without_backup_on_delete_no_backup_is_taken(tmp_path, engine):
    client = _client(tmp_path, engine, backup_on_delete=False)
    assert client.simulate_delete("/v1/container", params={"id": "site1"}).status_code == 204
    assert client.simulate_get("/v1/container/backups", params={"name": "site1"}).json["backups"] == []


# -- whose a backup is: the container's it was taken from (its full id), never a name's -------

OLD, NEW = "0" * 64, "1" * 64


def _stored(catalog: Catalog, name: str, backup: str, container: str | None, kind: str = "final") -> None:
    catalog.site_dir(name, create=True)
    catalog.archive_path(name, backup).write_bytes(GOOD)
    catalog.save(Record(backup=backup, name=name, kind=kind, state="done", started=time.time(), container=container))


def _site(name: str, cid: str):  # noqa: ANN202
    return dataclasses.replace(FakeEngine().containers.add(name, labels=LABELS), id=cid)


@pytest.fixture
def restorer(tmp_path):  # noqa: ANN201
    from dockerlink.backups import Restorer

    catalog = Catalog(tmp_path)
    _stored(catalog, "site1", "20260101T000000Z-0000000a", OLD)  # the site1 deleted before
    _stored(catalog, "site1", "20260102T000000Z-0000000b", NEW, kind="manual")  # the site1 there now
    _stored(catalog, "site1", "20260103T000000Z-0000000c", None, kind="uploaded")  # for no container
    _stored(catalog, "site2", "20260104T000000Z-0000000d", "2" * 64)
    return Restorer(FakeEngine(), catalog, Config(stats_db=str(tmp_path / "s.sqlite3")))


def test_a_site_restores_its_own_backups_by_full_id(restorer):
    site1 = _site("site1", NEW)
    assert restorer.find(site1, "20260102T000000Z-0000000b").container == NEW
    assert restorer.find(site1, "20260102T000000Z-0000000b", scoped=True).container == NEW


@pytest.mark.parametrize(
    ("backup", "whose"),
    [
        ("20260101T000000Z-0000000a", "container 000000000000"),
        ("20260103T000000Z-0000000c", "no container (an upload)"),
    ],
)
def test_another_containers_backup_under_the_same_name_needs_the_panels_from(restorer, backup, whose):
    from dockerlink.errors import Conflicting, Forbidden

    site1 = _site("site1", NEW)
    with pytest.raises(Conflicting) as refused:
        restorer.find(site1, backup)
    assert str(refused.value) == f"backup {backup} belongs to {whose}, not to site1: restore it with from=site1"
    with pytest.raises(Forbidden):  # a scoped token: never
        restorer.find(site1, backup, scoped=True)
    with pytest.raises(Forbidden):
        restorer.find(site1, backup, "site1", scoped=True)
    assert restorer.find(site1, backup, "site1").backup == backup  # the panel, naming the source


def test_the_panel_restores_another_sites_backup_only_by_naming_it(restorer):
    from dockerlink.errors import NoSuchBackup

    site1 = _site("site1", NEW)
    with pytest.raises(NoSuchBackup):  # looked for under site1's name only
        restorer.find(site1, "20260104T000000Z-0000000d")
    assert restorer.find(site1, "20260104T000000Z-0000000d", "site2").name == "site2"


def test_a_reused_names_listing_by_id_shows_only_the_live_containers_backups(tmp_path, engine):
    client = _client(tmp_path, engine)
    old = engine.containers.inspect("site1").id
    assert client.simulate_delete("/v1/container", params={"id": "site1"}).status_code == 204
    new = engine.containers.add("site1", labels=LABELS, volumes={"/var/www": "dockerlink-site1-www"}).id
    assert client.simulate_get("/v1/container/backups", params={"id": "site1"}).json["backups"] == []
    [final] = client.simulate_get("/v1/container/backups", params={"name": "site1"}).json["backups"]
    assert (final["kind"], final["container"]) == ("final", old)
    mine = client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=GOOD).json
    assert mine["container"] == new  # an upload belongs to the site that has the name now
    listed = client.simulate_get("/v1/container/backups", params={"id": new}).json["backups"]
    assert [b["backup"] for b in listed] == [mine["backup"]]

    r = client.simulate_post("/v1/container/restore", params={"id": "site1", "backup": final["backup"]})
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/plain")
    assert (
        r.text
        == f"backup {final['backup']} belongs to container {old[:12]}, not to site1: restore it with from=site1\n"
    )
    r = client.simulate_post("/v1/container/restore", params={"id": "site1", "backup": final["backup"], "from": "../x"})
    assert r.status_code == 400 and r.text.startswith("from:")


def test_an_upload_for_a_name_no_site_has_belongs_to_no_container(tmp_path, engine):
    client = _client(tmp_path, engine)
    up = client.simulate_put("/v1/container/backup", params={"name": "later1"}, body=GOOD)
    assert up.status_code == 201 and up.json["container"] is None


def _uploaded(client: TestClient, body: bytes) -> str:
    r = client.simulate_put("/v1/container/backup", params={"name": "site1"}, body=body)
    assert r.status_code == 201, r.text
    return r.json["backup"]


def test_a_restore_into_an_image_without_admin_is_409_before_the_site_is_stopped(tmp_path, engine):
    client = _client(tmp_path, engine)
    backup = _uploaded(client, GOOD)
    cid = engine.containers.inspect("site1").id
    engine.archives.without_admin.add(cid)
    r = client.simulate_post("/v1/container/restore", params={"id": "site1", "backup": backup})
    assert r.status_code == 409
    assert r.text == "the image of site1 has no user admin to own the restored files\n"
    assert engine.containers.inspect("site1").running
    assert not list((tmp_path / "b").glob(".restores/*.json"))


def test_a_restore_known_to_expand_past_the_cap_or_the_quota_is_413_before_the_site_is_stopped(tmp_path, engine):
    backup = _uploaded(_client(tmp_path, engine), _tar(("www", None), ("www/zeros", bytes(300_000))))
    cid = engine.containers.inspect("site1").id
    capped = _client(tmp_path, engine, restore_max_expanded=200_000)
    r = capped.simulate_post("/v1/container/restore", params={"id": "site1", "backup": backup})
    assert r.status_code == 413
    assert r.text == (
        f"restore of site1 from {backup} refused: the archive expands past 200000 bytes (restore_max_expanded)\n"
    )
    Quotas(Config(stats_db=str(tmp_path / "s.sqlite3"))).set(cid, 0.0001)  # 107374 bytes
    r = _client(tmp_path, engine).simulate_post("/v1/container/restore", params={"id": "site1", "backup": backup})
    assert r.status_code == 413
    assert r.text == (
        f"restore of site1 from {backup} refused: the archive expands past 107374 bytes "
        "(the site's disk quota, 0.0001 GiB)\n"
    )
    assert engine.containers.inspect("site1").running
    assert not list((tmp_path / "b").glob(".restores/*.json"))


def test_a_helper_on_a_sites_volume_joins_no_network():
    from dockerlink.backups.restore import run_on_volume
    from tests.fakes import FakeEngine

    engine = FakeEngine()
    engine.containers.wait = lambda ref: 0  # the fake has no wait: the helper "exits" at once
    run_on_volume(engine, "dockerlink/base:latest", "v1", "true", (), {"dockerlink.helper": "1"})
    assert engine.containers.last_create["HostConfig"]["NetworkMode"] == "none"  # no way to the sites or the host
