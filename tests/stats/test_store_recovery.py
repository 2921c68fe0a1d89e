"""The store when SQLite fails it: a corrupt file is moved aside and a fresh history starts;
a delete's history drop waits for the collector when the database is locked."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest

from dockerlink.events.journal import Journal
from dockerlink.stats.samples import Reading, Sample
from dockerlink.stats.store import StatsStore

A = "a" * 64
T = 1_700_000_000.0


def record(store: StatsStore, ts: float, container: str = A) -> None:
    reading = Reading(container, ts, True, cpu_ns=1, net_rx=0, net_tx=0)
    store.record_round(ts, [(reading, Sample(ts, 1.0, 100.0, 1e6, 2e9, 0, 0, 0, 0))])


def corrupt(path: Path) -> bytes:
    """Garbage over the whole file, as a disk error or a stray write would leave it."""
    garbage = os.urandom(path.stat().st_size)
    path.write_bytes(garbage)
    return garbage


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "stats.sqlite3"


def test_a_corrupt_file_is_moved_aside_kept_and_a_fresh_history_starts(path, caplog):
    store = StatsStore(str(path))
    record(store, T)
    store.close()
    garbage = corrupt(path)

    reader = StatsStore(str(path))  # a worker starting on the corrupt file does not fail
    with caplog.at_level(logging.CRITICAL, "dockerlink.stats"):
        assert reader.history(A) == []
        record(reader, T + 10)
        assert [s.ts for s in reader.history(A)] == [T + 10]
    reset = reader.last_reset()
    assert reset is not None and Path(reset["moved_to"]).read_bytes() == garbage
    assert Path(reset["moved_to"]).name.startswith("stats.sqlite3.corrupt-")
    loud = [r for r in caplog.records if "CORRUPT" in r.getMessage()]
    assert len(loud) <= 1  # one line: the open healed it, the queries found a good file


def test_a_corruption_found_by_a_running_reader_heals_and_the_other_process_follows(path, caplog):
    collector, worker = StatsStore(str(path)), StatsStore(str(path))
    record(collector, T)
    assert worker.last_sample_time() == T
    collector._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows are in the file, not the WAL
    garbage = corrupt(path)
    with caplog.at_level(logging.CRITICAL, "dockerlink.stats"):
        assert worker.history(A) == []  # found it, moved it aside
    assert sum("CORRUPT" in r.getMessage() for r in caplog.records) == 1
    record(collector, T + 10)  # the writer follows the new file, without a restart
    assert worker.last_sample_time() == T + 10
    assert Path(worker.last_reset()["moved_to"]).read_bytes() == garbage


def test_the_collectors_check_finds_corruption_no_query_has_touched(path):
    store = StatsStore(str(path))
    for i in range(300):
        record(store, T + i, container=f"{i:064x}")
    store.close()
    data = bytearray(path.read_bytes())
    data[-4096:] = os.urandom(4096)  # the last page only: the queries below do not read it
    path.write_bytes(bytes(data))
    store = StatsStore(str(path))
    store.check()
    assert store.last_reset() is not None
    assert store.last_sample_time() is None


def _asked(events: Path) -> list[tuple]:
    """The hand-off rows in the events file, read as the file holds them."""
    db = sqlite3.connect(str(events))
    try:
        return db.execute("SELECT kind, id FROM handoff").fetchall()
    finally:
        db.close()


def test_forget_on_a_locked_database_never_raises_and_the_collector_finishes_it(path):
    events = path.parent / "events.sqlite3"
    worker = StatsStore(str(path), handoff=Journal(str(events)))
    collector = StatsStore(str(path), handoff=Journal(str(events)))  # another process's, in effect
    record(collector, T)
    locker = sqlite3.connect(str(path), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        assert worker.forget(A) is False  # no exception: the delete it belongs to succeeds
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert collector.has_history(A)  # not yet
    assert _asked(events) == [("forget_stats", A)]  # asked through the events file's hand-off
    collector.maintain(T + 10)  # the collector's next round
    assert not collector.has_history(A)
    assert _asked(events) == []  # done once: the request is gone
    assert not (path.parent / "stats.sqlite3.forget").exists()  # the old queue file is not used


def test_a_forget_the_collector_could_not_do_stays_asked(path, monkeypatch):
    events = path.parent / "events.sqlite3"
    Journal(str(events)).ask("forget_stats", A)
    collector = StatsStore(str(path), handoff=Journal(str(events)))
    record(collector, T)

    def broken(container_id: str, now: float) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(collector, "_forget", broken)
    with pytest.raises(sqlite3.OperationalError):
        collector.maintain(T + 10)
    assert _asked(events) == [("forget_stats", A)]  # asked again at the next round
    monkeypatch.undo()
    collector.maintain(T + 20)
    assert _asked(events) == [] and not collector.has_history(A)


def test_an_earlier_versions_forget_file_is_drained_once(path):
    store = StatsStore(str(path))
    record(store, T)
    (path.parent / "stats.sqlite3.forget").write_text(f"{A}\n{A}\n")
    store.maintain(T + 10)
    assert not store.has_history(A)
    assert not (path.parent / "stats.sqlite3.forget").exists()


def test_forget_on_a_corrupt_database_never_raises(path):
    store = StatsStore(str(path))
    record(store, T)
    store._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    corrupt(path)
    store.forget(A)
    assert not store.has_history(A)
