"""A stats file of every earlier schema version opens and is brought to the current one
(`PRAGMA user_version`), keeping its rows."""

from __future__ import annotations

import sqlite3

import pytest

from dockerlink.stats.store import StatsStore
from dockerlink.storage import migrate

CURRENT = 2
# The first layout, written out by hand: tier-0 rows without `pids` and `oom_kills`.
OLD_RECENT = """CREATE TABLE recent (
    ts REAL NOT NULL, cid INTEGER NOT NULL, cpu REAL NOT NULL, cpu_limit REAL, mem_used REAL NOT NULL,
    mem_limit REAL NOT NULL, net_up INTEGER NOT NULL, net_down INTEGER NOT NULL, delta_up INTEGER NOT NULL,
    delta_down INTEGER NOT NULL, body TEXT NOT NULL, read_at REAL NOT NULL, cpu_ns INTEGER NOT NULL,
    PRIMARY KEY (ts, cid)
) WITHOUT ROWID"""
ROW = "INSERT INTO recent VALUES (1700000000.0, 1, 12.5, NULL, 1e6, 2e9, 10, 20, 1, 2, '{}', 1700000000.0, 99)"


def _old_file(path, *, version: int, with_counts: bool) -> None:
    db = sqlite3.connect(path)
    db.execute(OLD_RECENT)
    db.execute(ROW)
    if with_counts:  # a file of the second layout, made before versions were kept
        db.execute("ALTER TABLE recent ADD COLUMN pids INTEGER NOT NULL DEFAULT 0")
        db.execute("ALTER TABLE recent ADD COLUMN oom_kills INTEGER NOT NULL DEFAULT 0")
        db.execute("UPDATE recent SET pids = 7")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


def _read(path) -> tuple[int, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        return version, db.execute("SELECT cpu, cpu_ns, pids, oom_kills FROM recent").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize(
    ("version", "with_counts", "pids"),
    [(0, False, 0), (0, True, 7), (1, False, 0)],
    ids=["unversioned-first-layout", "unversioned-with-counts", "version-1"],
)
def test_an_earlier_file_opens_and_is_migrated_keeping_its_rows(tmp_path, version, with_counts, pids):
    path = tmp_path / "stats.sqlite3"
    _old_file(path, version=version, with_counts=with_counts)
    store = StatsStore(str(path))
    store.close()
    assert _read(path) == (CURRENT, [(12.5, 99, pids, 0)])
    StatsStore(str(path)).close()  # opening again changes nothing
    assert _read(path) == (CURRENT, [(12.5, 99, pids, 0)])


def test_a_new_file_is_at_the_current_version(tmp_path):
    path = tmp_path / "stats.sqlite3"
    StatsStore(str(path)).close()
    assert _read(path) == (CURRENT, [])


def test_a_failing_step_leaves_the_file_at_its_version(tmp_path):
    db = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)

    def fails(db: sqlite3.Connection) -> None:
        raise RuntimeError("step two fails")

    with pytest.raises(RuntimeError):
        migrate(db, [["CREATE TABLE a (x)"], fails])
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == []  # step one rolled back too
    assert migrate(db, [["CREATE TABLE a (x)"]]) == 1
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
