"""The one atomic write of a state file."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat

import pytest

from dockerlink.storage import write_atomically


def test_a_file_is_written_and_replaced_whole(tmp_path):
    path = tmp_path / "state.json"
    write_atomically(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    write_atomically(str(path), "second")
    assert path.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_the_mode_is_the_one_asked_for(tmp_path):
    write_atomically(tmp_path / "public", "x")
    write_atomically(tmp_path / "private", "x", mode=0o600)
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    (tmp_path / "taken").mkdir()  # a directory where the file should go: the rename fails
    with pytest.raises(OSError):
        write_atomically(tmp_path / "taken", "new")
    assert (tmp_path / "taken").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_a_connection_is_wal_waits_for_a_writer_and_makes_its_directory(tmp_path):
    from dockerlink.storage import connect

    db = connect(str(tmp_path / "new" / "x.sqlite3"), busy_ms=2500)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    durable = connect(str(tmp_path / "new" / "y.sqlite3"), synchronous="FULL")
    assert durable.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.in_transaction is False
    db.execute("CREATE TABLE t (x)")  # autocommit: visible to another connection at once
    other = connect(str(tmp_path / "new" / "x.sqlite3"))
    assert other.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]


def _open_at_once(path: str, barrier, errors) -> None:  # noqa: ANN001 - multiprocessing's
    from dockerlink.storage import connect

    barrier.wait()
    try:
        connect(path).close()
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.put(repr(exc))


def test_processes_opening_a_new_file_at_once_all_get_it_in_wal(tmp_path):
    """gunicorn's workers and the collector open the journal together at the service's
    start; SQLite answered one switching a new file to WAL while another did "database is
    locked" at once (10 of 160 opens without the retry), and that worker failing to boot
    stopped gunicorn."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for i in range(40):
        path = str(tmp_path / f"{i}.sqlite3")
        barrier = ctx.Barrier(4)
        openers = [ctx.Process(target=_open_at_once, args=(path, barrier, errors)) for _ in range(4)]
        for p in openers:
            p.start()
        for p in openers:
            p.join(30)
        assert [p.exitcode for p in openers] == [0, 0, 0, 0]
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    seen = []
    while not errors.empty():
        seen.append(errors.get())
    assert seen == []
