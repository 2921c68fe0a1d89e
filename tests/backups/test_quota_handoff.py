"""Disk quotas go from the workers to the collector through the events journal's hand-off
table: read back from the file by another connection (the collector's), one row per site,
and an earlier version's `<stats_db>.quotas.json` is carried over once."""

from __future__ import annotations

import json
import sqlite3

from dockerlink.backups.disk import Quotas
from dockerlink.config import Config
from dockerlink.events.journal import Journal

A, B = "a" * 64, "b" * 64


def _rows(events) -> list[tuple]:
    db = sqlite3.connect(str(events))
    try:
        return db.execute("SELECT kind, id, detail FROM handoff ORDER BY id").fetchall()
    finally:
        db.close()


def test_a_quota_a_worker_sets_is_what_the_collector_reads_one_row_per_site(tmp_path):
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"))
    worker = Quotas(config, Journal(config.events_path))
    collector = Quotas(config)  # its own connection to the same file
    worker.set(A, 2.0)
    worker.set(B, 0.5)
    worker.set(A, 1.5)  # replaced, not added
    assert collector.all() == {A: 1.5, B: 0.5}
    assert _rows(tmp_path / "dockerlink-events.sqlite3") == [
        ("quota", A, '{"gib":1.5}'),
        ("quota", B, '{"gib":0.5}'),
    ]
    worker.set(B, None)  # no quota: no row
    worker.set(A, 0)
    assert collector.all() == {} and _rows(tmp_path / "dockerlink-events.sqlite3") == []
    assert Journal(config.events_path).take_handoffs() == []  # never journaled as an event


def test_an_earlier_versions_quota_file_is_carried_over_once(tmp_path):
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"))
    legacy = tmp_path / "stats.sqlite3.quotas.json"
    legacy.write_text(json.dumps({A: 3.0, B: 0.25}))
    assert Quotas(config).all() == {A: 3.0, B: 0.25}
    assert not legacy.exists()
    Quotas(config).set(A, None)
    assert Quotas(config).all() == {B: 0.25}  # not carried over again


def test_a_broken_quota_file_of_an_earlier_version_is_dropped(tmp_path):
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"))
    (tmp_path / "stats.sqlite3.quotas.json").write_text("{not json")
    assert Quotas(config).all() == {}
    assert not (tmp_path / "stats.sqlite3.quotas.json").exists()
