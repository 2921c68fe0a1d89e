"""An events journal of each earlier layout opens and is brought to the current schema
version (`PRAGMA user_version`), its rows still found through the journal's own calls."""

from __future__ import annotations

import sqlite3

import pytest

from dockerlink.events.journal import Journal

CURRENT = 3
# The layouts as they were shipped, written out by hand (before versions were kept: 0; then 2).
FIRST_LAYOUT = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, detail TEXT NOT NULL, key TEXT UNIQUE
);
CREATE INDEX events_by_id ON events (id, seq);
CREATE INDEX events_by_time ON events (time);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE counters (
    id TEXT NOT NULL, counter TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (id, counter)
) WITHOUT ROWID;
CREATE TABLE requests (id TEXT NOT NULL, action TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX requests_by_id ON requests (id, at);
"""
HANDOFF = """
CREATE TABLE handoff (
    n INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, detail TEXT NOT NULL, key TEXT
);
"""
CID = "c" * 64


def _old_file(path, layout: str, version: int) -> None:
    db = sqlite3.connect(path)
    db.executescript(layout)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute(
        "INSERT INTO events (time, id, name, type, detail, key) VALUES (100.0, ?, 'site', 'started', '{}', 'k1')",
        (CID,),
    )
    db.execute("INSERT INTO state VALUES ('cursor', '123')")
    db.execute("INSERT INTO counters VALUES (?, 'oom_kills@5', 3)", (CID,))
    db.execute("INSERT INTO requests VALUES (?, 'stop', 4000000000.0)", (CID,))
    if "handoff" in layout:
        db.execute(
            "INSERT INTO handoff (time, id, name, type, detail, key) "
            "VALUES (200.0, ?, 'site', 'backup_done', '{\"backup\":\"b1\"}', 'backup/b1')",
            (CID,),
        )
    db.commit()
    db.close()


def _version(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("layout", "version"),
    [(FIRST_LAYOUT, 0), (FIRST_LAYOUT + HANDOFF, 0), (FIRST_LAYOUT + HANDOFF, 2)],
    ids=["first", "with-handoff", "version-2"],
)
def test_an_earlier_journal_opens_at_the_current_version_with_its_rows(tmp_path, layout, version):
    path = str(tmp_path / "events.sqlite3")
    _old_file(path, layout, version)
    journal = Journal(path)
    assert _version(path) == CURRENT
    assert [(e.seq, e.id, e.type) for e in journal.read(0)] == [(1, CID, "started")]
    assert journal.state("cursor") == "123"
    assert journal.counter(CID, "oom_kills@5") == 3
    assert journal.requested(CID, after=0) == "stop"  # the stop request moved into the hand-off table
    assert journal.requested(CID, after=4_000_000_001.0) is None
    handed = [(e.seq, e.type, e.detail) for e in journal.take_handoffs()]
    assert handed == ([(2, "backup_done", {"backup": "b1"})] if "handoff" in layout else [])
    journal.hand_off(300.0, CID, "site", "backup_failed", {"error": "x"}, key="backup/b2")  # the new table works
    assert [e.type for e in journal.take_handoffs()] == ["backup_failed"]
    journal.ask("forget_stats", CID)  # and a request for another job waits there until done
    assert journal.take_handoffs() == [] and [cid for _, cid in journal.asked("forget_stats")] == [CID]
    journal.close()
    Journal(path).close()  # opening again changes nothing
    assert _version(path) == CURRENT
    db = sqlite3.connect(path)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'requests'").fetchall() == []
    db.close()


def test_a_new_journal_is_made_at_the_current_version(tmp_path):
    path = str(tmp_path / "new.sqlite3")
    Journal(path).close()
    assert _version(path) == CURRENT
