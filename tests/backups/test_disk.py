"""Disk use: the walk counts what du counts, never follows a symlink, counts a hard link
once, stops at its budget; crossing a quota raises disk_over then disk_ok (and stops the
site with disk_enforce = stop)."""

from __future__ import annotations

import os

from dockerlink.backups import disk
from dockerlink.backups.disk import DiskMeter, Quotas, read_usage, walk
from dockerlink.config import Config
from tests.fakes import FakeEngine

LABELS = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}


def test_the_walk_never_follows_a_symlink_and_counts_a_hard_link_once(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(os.urandom(1 << 20))
    site = tmp_path / "site"
    (site / "d").mkdir(parents=True)
    (site / "d" / "f").write_bytes(os.urandom(100_000))
    os.link(site / "d" / "f", site / "hard")
    (site / "link").symlink_to(outside)
    w = walk(str(site))
    assert w.complete
    assert w.files == 4  # d, d/f, hard, link
    assert 100_000 <= w.bytes < 1 << 20


def test_a_walk_over_its_budget_stops_and_says_so(tmp_path, monkeypatch):
    for i in range(50):
        (tmp_path / str(i)).touch()
    monkeypatch.setattr(disk, "YIELD_EVERY", 10)
    ticks = iter(range(1000))
    w = walk(str(tmp_path), budget=2, clock=lambda: next(ticks))
    assert not w.complete and w.files < 50


def _site_on_a_volume(tmp_path):  # noqa: ANN001, ANN202
    """A site whose /var/www volume is the directory `tmp_path/vol` on this host."""
    engine = FakeEngine()
    c = engine.containers.add("site1", labels=LABELS, volumes={"/var/www": "dockerlink-site1-www"})
    volume = tmp_path / "vol"
    volume.mkdir()
    engine.volumes.create("dockerlink-site1-www")
    engine.volumes.inspect = lambda name: type("V", (), {"mountpoint": str(volume)})()
    return engine, c, volume


def test_crossing_a_quota_raises_disk_over_then_disk_ok_and_can_stop_the_site(tmp_path):
    engine, c, volume = _site_on_a_volume(tmp_path)
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), disk_enforce="stop")
    events = []
    meter = DiskMeter(engine, config, notify=lambda kind, cid, details: events.append((kind, cid)))
    Quotas(config).set(c.id, 0.001)  # ~1 MiB
    meter.measure_all()
    assert events == []
    (volume / "big").write_bytes(os.urandom(2 << 20))
    meter.measure_all()
    assert events == [("disk_over", c.id)]
    assert not engine.containers.inspect(c.id).running
    assert read_usage(config)[c.id]["used"] > 0.001
    meter.measure_all()
    assert events == [("disk_over", c.id)]  # once per crossing
    (volume / "big").unlink()
    meter.measure_all()
    assert events == [("disk_over", c.id), ("disk_ok", c.id)]


def test_a_quota_event_comes_after_the_use_that_raised_it_is_recorded(tmp_path):
    """A panel that hears disk_over and reads the listing at once sees the use over quota."""
    engine, c, volume = _site_on_a_volume(tmp_path)
    config = Config(stats_db=str(tmp_path / "s.sqlite3"))
    recorded = []
    meter = DiskMeter(engine, config, notify=lambda kind, cid, d: recorded.append((kind, read_usage(config)[cid])))
    Quotas(config).set(c.id, 0.001)  # ~1 MiB
    meter.measure_all()
    (volume / "big").write_bytes(os.urandom(2 << 20))
    meter.measure_all()
    [(kind, usage)] = recorded
    assert kind == "disk_over" and usage["used"] > 0.001 and usage["over"] is True


def test_the_listing_and_the_latest_stats_sample_show_the_last_disk_measure():
    measured = {"used": 1.5, "files": 12, "at": 1_800_000_000, "over": False}
    listing = disk.with_disk({"error": {}, "success": {"site1": {"id": "abc"}, "b": {"id": "def"}}}, {"abc": measured})
    assert listing["success"]["site1"]["disk"] == {"used": 1.5, "files": 12, "at": 1_800_000_000}
    assert "disk" not in listing["success"]["b"]
    history = disk.with_latest_disk('{"10":{"cpu":{}},"20":{"cpu":{}}}', measured)
    assert history == '{"10":{"cpu":{}},"20":{"cpu":{},"disk":{"used":1.5,"files":12,"at":1800000000}}}'
    assert disk.with_latest_disk("{}", measured) == "{}"
