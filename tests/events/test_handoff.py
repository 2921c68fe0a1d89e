"""Events from outside the follower: a backup's end, handed off by the worker that ran it
and journaled by the collector (one writer, in order, once, kept across a restart), and a
disk quota crossed, journaled by the collector's disk meter."""

from __future__ import annotations

import os

from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.backups.disk import DiskMeter, Quotas
from dockerlink.config import Config
from dockerlink.engine import ServerError
from dockerlink.events.hooks import disk_events
from dockerlink.events.journal import Journal
from dockerlink.events.runner import relay_handoffs
from tests.fakes import FakeEngine, FakeStore

LABELS = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}
CID = "c" * 64


def test_handed_off_events_are_journaled_by_the_collector_in_order_once_even_after_a_restart(tmp_path):
    path = str(tmp_path / "events.sqlite3")
    worker = Journal(path)
    worker.hand_off(20.0, CID, "site1", "backup_done", {"backup": "b1"}, key="backup/b1")
    worker.hand_off(10.0, CID, "site1", "backup_failed", {"backup": "b2"}, key="backup/b2")
    worker.hand_off(20.0, CID, "site1", "backup_done", {"backup": "b1"}, key="backup/b1")  # told twice
    worker.hand_off(30.0, CID, "site1", "disk_ok", {})  # no key: once, because it is moved
    assert worker.read() == []  # nothing in the journal until the collector takes them
    worker.close()
    collector = Journal(path)  # a collector started after the worker wrote: nothing lost
    made = collector.take_handoffs()
    assert [(e.type, e.detail.get("backup")) for e in made] == [
        ("backup_done", "b1"),
        ("backup_failed", "b2"),
        ("disk_ok", None),
    ]
    assert [e.seq for e in collector.read()] == [e.seq for e in made] and made[0].seq < made[1].seq < made[2].seq
    assert collector.take_handoffs() == []  # moved, not copied
    assert collector.appended.is_set()  # wakes the webhook sender


def test_the_relay_thread_journals_what_is_waiting_before_it_stops(tmp_path):
    journal = Journal(str(tmp_path / "events.sqlite3"))
    for i in range(150):  # more than one batch
        journal.hand_off(float(i), CID, "site1", "backup_done", {"backup": f"b{i}"})
    relay_handoffs(journal, lambda seconds: True)
    assert len(journal.read(limit=1000)) == 150


def _site(engine: FakeEngine) -> str:
    return engine.containers.add("site1", labels=LABELS, volumes={"/var/www": "dockerlink-site1-www"}).id


def test_a_backup_done_and_a_backup_failed_reach_get_events_with_their_details(tmp_path):
    engine = FakeEngine()
    cid = _site(engine)
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"))
    client = TestClient(create_app(config, engine=engine, store=FakeStore()))
    engine.containers.archive_error = ServerError(500, "archive failed")
    assert client.simulate_delete("/v1/container", params={"id": "site1"}).status_code == 502  # final backup failed
    engine.containers.archive_error = None
    assert client.simulate_delete("/v1/container", params={"id": "site1"}).status_code == 204
    Journal(config.events_path).take_handoffs()  # what the collector's relay does every second
    events = client.simulate_get("/v1/events", params={"type": "backup_done,backup_failed"}).json["events"]
    assert [(e["type"], e["id"], e["name"]) for e in events] == [
        ("backup_failed", cid, "site1"),
        ("backup_done", cid, "site1"),
    ]
    failed, done = events[0]["detail"], events[1]["detail"]
    assert "archive failed" in failed["error"] and failed["kind"] == "final"
    backups = client.simulate_get("/v1/container/backups", params={"name": "site1"}).json["backups"]
    [listed] = [b for b in backups if b["state"] == "done"]
    assert failed["backup"] == next(b["backup"] for b in backups if b["state"] == "failed")
    assert done == {"backup": listed["backup"], "kind": "final", "size": listed["size"], "sha256": listed["sha256"]}
    assert done["size"] > 0 and len(done["sha256"]) == 64


def test_crossing_a_disk_quota_is_journaled_as_disk_over_then_disk_ok(tmp_path):
    engine = FakeEngine()
    cid = _site(engine)
    volume = tmp_path / "vol"
    volume.mkdir()
    engine.volumes.create("dockerlink-site1-www")
    engine.volumes.inspect = lambda name: type("V", (), {"mountpoint": str(volume)})()
    config = Config(stats_db=str(tmp_path / "s.sqlite3"))
    journal = Journal(config.events_path)
    meter = DiskMeter(engine, config, notify=disk_events(journal))
    Quotas(config).set(cid, 0.001)  # ~1 MiB
    meter.measure_all()
    (volume / "big").write_bytes(os.urandom(2 << 20))
    meter.measure_all()
    meter.measure_all()  # still over: no second event
    (volume / "big").unlink()
    meter.measure_all()
    events = journal.read()
    assert [(e.type, e.id, e.name) for e in events] == [("disk_over", cid, "site1"), ("disk_ok", cid, "site1")]
    assert events[0].detail["quota"] == 0.001 and events[0].detail["used"] > 0.001
    assert events[1].detail["used"] < 0.001
