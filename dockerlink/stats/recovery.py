"""What the stats store does when SQLite fails it, so the service never does.

- A corrupt file (SQLITE_CORRUPT, SQLITE_NOTADB) never heals by itself: it is moved aside,
  with its -wal and -shm, to `<stats_db>.corrupt-<UTC time>` (kept for the operator), and
  a fresh store starts. One process does it (an exclusive lock beside the file); the
  others see the file's inode change and reopen.
- Dropping a deleted container's history must never fail its delete: when the database
  is locked or broken, the worker asks the collector through the one hand-off (`HandOff`:
  the events journal's `handoff` table, in another file than the stats one), and the
  collector drops it at its next round (`StatsStore.maintain`). An earlier version queued
  those ids in `<stats_db>.forget`; the collector still drains that file once.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from ..statefiles import StateFiles, locked

__all__ = ["is_corrupt", "move_aside", "heal_lock", "HandOff", "FORGET", "legacy_forgets"]

#: The hand-off kind asking the stats rounds to drop a deleted container's history.
FORGET = "forget_stats"


class HandOff(Protocol):
    """The workers-to-collector hand-off as the stats store uses it (the events journal)."""

    def ask(self, kind: str, container_id: str) -> None: ...

    def asked(self, kind: str, limit: int = 1000) -> list[tuple[int, str]]: ...

    def done(self, ns: Iterable[int]) -> None: ...


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


@contextmanager
def legacy_forgets(path: str) -> Iterator[list[str]]:
    """The ids an earlier version queued in `<stats_db>.forget`; the file goes once the block
    succeeds (nothing writes it anymore: no lock needed)."""
    legacy = StateFiles(stats_db=path).path("forget")
    try:
        with open(legacy, encoding="ascii") as f:
            ids = sorted({line.strip() for line in f if line.strip()})
    except FileNotFoundError:
        ids = None
    yield ids or []
    if ids is not None:
        os.unlink(legacy)
