"""How dockerlink keeps its state: one way to open a SQLite file, one way to bring its schema
to the current version, one way to write a small state file whole (and to read one, and to
change one that several processes write)."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .statefiles import locked

__all__ = ["connect", "migrate", "Migration", "write_atomically", "read_json_object", "edited_json_object"]

#: One schema step: SQL statements (each one statement: `executescript` would commit the
#: migration's transaction), or a function of the connection for what SQL cannot say alone.
Migration = Sequence[str] | Callable[[sqlite3.Connection], None]


def connect(path: str, *, busy_ms: int = 10000, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A connection as every dockerlink database is opened: autocommit (a statement is its
    own transaction unless a BEGIN says otherwise); not tied to its thread (its owner gives
    each thread its own, or guards one behind a lock); waiting up to `busy_ms` for a writer
    of another process; WAL, so readers never wait for the one writer. `synchronous=NORMAL`
    survives a crash of the process; FULL also a loss of power, for what must never be lost."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    db = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False)
    _set_wal(db, time.monotonic() + busy_ms / 1000)
    db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
    return db


def _set_wal(db: sqlite3.Connection, deadline: float) -> None:
    """WAL, waited for as any other lock is. Several processes opening a new file at once
    (gunicorn's workers and the collector at the service's start) each switch it to WAL, and
    SQLite answers the one that finds another switching "database is locked" at once,
    without its busy handler: a worker that failed to boot on it took gunicorn down with it
    (seen in CI; `tests/test_storage.py` opens one file from 4 processes at once)."""
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the file to version `len(migrations)` (`PRAGMA user_version`): each step after
    the file's version runs, in one write transaction with the new version, so a second
    process opening the file meanwhile waits and then finds it done. Returns the version."""
    target = len(migrations)
    if db.execute("PRAGMA user_version").fetchone()[0] >= target:
        return target
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for step in migrations[version:]:
            if callable(step):
                step(db)
            else:
                for statement in step:
                    db.execute(statement)
        db.execute(f"PRAGMA user_version = {max(version, target):d}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (corruption, a full disk)
            db.execute("ROLLBACK")
        raise
    return max(version, target)


def write_atomically(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> None:
    """Replace `path` with `text` whole: written to a temporary file beside it, flushed to
    disk, then renamed over it, so a reader (another process, or this one after a crash)
    sees the old content or the new, never half. The temporary file (a dot file ending in
    `.tmp`, never matched by a `*.json` or `*.conf` reader) is removed if anything fails."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON state file's object; `{}` when it is missing, unreadable or not an object."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


@contextmanager
def edited_json_object(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """A JSON state file that several processes change: its object, read under an exclusive
    lock (`<path>.lock`), written back whole (`write_atomically`) when the block ends
    without an exception."""
    with locked(f"{os.fspath(path)}.lock"):
        value = read_json_object(path)
        yield value
        write_atomically(path, json.dumps(value, sort_keys=True))
