"""Each site's last good backup: noted as a backup ends (a failed one, an upload, an older
one do not move it), brought back in line when backups are removed, and shown in the
listing as `last_backup` (Unix seconds, or null) without an engine call or a walk of
backup_dir."""

from __future__ import annotations

import json
import time

from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.backups import Catalog, Record
from dockerlink.backups.freshness import LastBackups, last_backup_file
from dockerlink.backups.policy import Retention
from dockerlink.backups.retention import LocalTarget
from dockerlink.config import Config
from tests.fakes import FakeEngine, FakeStore
from tests.waiting import until

LABELS = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}
C1, C2 = "1" * 64, "2" * 64


def _r(backup: str, started: float, container: str | None = C1, kind: str = "manual", state: str = "done") -> Record:
    return Record(backup=backup, name="site1", kind=kind, state=state, started=started, container=container)


def test_only_a_newer_good_backup_of_the_container_moves_it(tmp_path):
    last = LastBackups(tmp_path / "last.json")
    last.note(_r("20270101T000000Z-00000001", 1000.9))
    last.note(_r("20261231T000000Z-00000002", 900.0))  # older (a slow one ending late)
    last.note(_r("20270102T000000Z-00000003", 2000.0, state="failed"))
    last.note(_r("20270102T000000Z-00000004", 2000.0, kind="uploaded"))
    last.note(_r("20270102T000000Z-00000005", 2000.0, container=None))
    assert last.all() == {C1: {"name": "site1", "at": 1000, "backup": "20270101T000000Z-00000001", "target": "local"}}
    last.note(_r("20270103T000000Z-00000006", 3000.0, kind="scheduled"))
    last.note(_r("20270103T000000Z-00000007", 3100.0, container=C2, kind="final"))
    assert {cid: e["at"] for cid, e in last.all().items()} == {C1: 3000, C2: 3100}


def test_a_removal_brings_it_back_to_the_newest_left(tmp_path):
    catalog = Catalog(tmp_path / "b")
    catalog.site_dir("site1", create=True)
    for r in (_r("20270101T000000Z-00000001", 1000.0), _r("20270102T000000Z-00000002", 2000.0)):
        catalog.save(r)
    last = LastBackups(tmp_path / "last.json")
    last.note(_r("20270102T000000Z-00000002", 2000.0))
    restic = {"name": "site1", "at": 5000, "backup": "0123abcd", "target": "restic"}
    last.refresh("site2", [], target="local")  # another name: nothing changes
    catalog.remove("site1", "20270102T000000Z-00000002")
    last.refresh("site1", catalog.records("site1"))
    assert last.all()[C1]["backup"] == "20270101T000000Z-00000001"
    catalog.remove("site1", "20270101T000000Z-00000001")
    last.refresh("site1", catalog.records("site1"))
    assert last.all() == {}
    # another target's entry is that target's to keep
    (tmp_path / "last.json").write_text(json.dumps({C2: restic}))
    last.refresh("site1", [])
    assert last.all() == {C2: restic}


def test_the_retention_job_target_notes_backups_taken_before_the_file_existed(tmp_path):
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"))
    catalog = Catalog(config.backup_dir)
    catalog.site_dir("site1", create=True)
    now = time.time()
    for i in range(4):
        catalog.save(_r(f"2027010{i + 1}T000000Z-0000000{i}", now - 400 + i * 100))
    target = LocalTarget(config)
    assert target.sites() == ["site1"]
    assert len(target.apply_retention("site1", Retention(last=2))) == 2
    assert LastBackups.of(config).all()[C1]["backup"] == "20270104T000000Z-00000003"


def test_the_listing_shows_each_sites_last_good_backup_or_null(tmp_path):
    engine = FakeEngine()
    one = engine.containers.add("site1", labels=LABELS, volumes={"/var/www": "v1"}).id
    two = engine.containers.add("site2", labels=LABELS, volumes={"/var/www": "v2"}).id
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"))
    client = TestClient(create_app(config, engine=engine, store=FakeStore()))
    listed = client.simulate_get("/v1/container").json["success"]
    assert listed[one]["last_backup"] is None and listed[two]["last_backup"] is None
    backup = client.simulate_post("/v1/container/backup", params={"id": "site1"}).json["backup"]

    def state() -> str:
        found = client.simulate_get("/v1/container/backups", params={"id": "site1"}).json["backups"]
        return found[0]["state"] if found else "none"

    until(lambda: state() == "done", "the backup is done")
    record = Catalog(config.backup_dir).get("site1", backup)
    inspected = len(engine.containers.inspected)
    listed = client.simulate_get("/v1/container").json["success"]
    assert listed[one]["last_backup"] == int(record.started)
    assert listed[two]["last_backup"] is None
    assert len(engine.containers.inspected) - inspected <= 2  # the listing's own inspects, nothing per backup
    assert last_backup_file(config.stats_db).is_file()
    assert client.simulate_delete("/v1/container/backup", params={"name": "site1", "backup": backup}).status_code == 204
    assert client.simulate_get("/v1/container").json["success"][one]["last_backup"] is None
