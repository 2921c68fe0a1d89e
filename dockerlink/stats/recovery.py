"""What the stats store does when SQLite fails it, so the service never does.

- A corrupt file (SQLITE_CORRUPT, SQLITE_NOTADB) never heals by itself: it is moved aside,
  with its -wal and -shm, to `<stats_db>.corrupt-<UTC time>` (kept for the operator), and
  a fresh store starts. One process does it (an exclusive lock beside the file); the
  others see the file's inode change and reopen.
- Dropping a deleted container's history must never fail its delete: when the database
  is locked or broken, the id is appended to `<stats_db>.forget` and the collector drops
  it at its next round (`StatsStore.maintain`).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..statefiles import StateFiles, locked

__all__ = ["is_corrupt", "move_aside", "heal_lock", "defer_forget", "deferred_forgets"]

_CORRUPT_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)


def is_corrupt(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def move_aside(path: str, now: float | None = None) -> str:
    """Rename the database and its -wal/-shm files; returns where the database went."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    first = aside = StateFiles(stats_db=path).path("corrupt", time=stamp)
    n = 1
    while os.path.exists(aside):
        n += 1
        aside = f"{first}-{n}"
    for suffix in ("-wal", "-shm", ""):  # the database last: a reader never opens it with a stale WAL
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    return aside


@contextmanager
def heal_lock(path: str) -> Iterator[None]:
    """One healer at a time, across threads and processes."""
    with locked(StateFiles(stats_db=path).path("heal_lock")):
        yield


def defer_forget(path: str, container_id: str) -> None:
    """Queue `container_id` for the collector (one line, appended under the queue's lock)."""
    with open(path + ".forget", "a", encoding="ascii") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(container_id + "\n")


@contextmanager
def deferred_forgets(path: str) -> Iterator[list[str]]:
    """The queued ids, under the queue's lock; the queue is emptied if the block succeeds."""
    try:
        f = open(path + ".forget", "r+", encoding="ascii")
    except FileNotFoundError:
        yield []
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        ids = sorted({line.strip() for line in f if line.strip()})
        yield ids
        f.seek(0)
        f.truncate()
