"""The journal: one SQLite file (WAL, `events_db`) that only the collector process writes
and every worker reads.

- `events`: the journal itself. `seq` is AUTOINCREMENT, so it only ever grows, even after
  pruning; `key` (unique) names the engine event an entry came from, which is how an event
  read twice (a replay after a restart of the collector or of dockerd) is written once.
- `state`: the follower's cursor in the engine's event log and the webhook outbox's
  progress (last delivered seq, failed attempts, next try), written in the same
  transaction as what they describe.
- `counters`: per container, the last restart count and cgroup OOM-kill count seen.
- `handoff`: the one way a worker tells the collector something (the only table workers
  write), a row per message, its `kind` naming who reads it:
  - `event`: what happens in a worker (a backup done or failed), moved into `events` by the
    collector, oldest first, each in one transaction (insert, delete), so the journal keeps
    one writer and a row waits in the file across any restart until it is journaled;
  - `request`: a stop/restart/delete asked through dockerlink (`type` the action), looked
    up by the follower so a `stopped` event can say who asked, pruned after an hour;
  - any other kind (`ask`/`asked`/`done`): a request for another of the collector's jobs,
    done at least once, e.g. the stats rounds dropping a deleted site's history that the
    worker could not drop itself (the stats file locked or broken: this file is another);
  - a value kept per container (`set_value`/`values`), one row each, replaced whole: a
    site's disk quota, set by a worker, read by the disk meter and by restores.
  Why this table: it is in a file every worker already opens (storage.connect: WAL, a busy
  wait), apart from the stats file, kept across restarts of either side until done.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..storage import Migration, connect, migrate
from .bell import ring

__all__ = ["Event", "Journal", "oom_counter", "MIGRATIONS"]

#: The schema's versions, in order (`PRAGMA user_version` is how many a file has; a file
#: made before versions were kept is 0, and each step's IF NOT EXISTS finds what it had).
MIGRATIONS: tuple[Migration, ...] = (
    # 1: the journal, the follower's state, counters and the workers' stop requests
    (
        """CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
            type TEXT NOT NULL, detail TEXT NOT NULL, key TEXT UNIQUE)""",
        "CREATE INDEX IF NOT EXISTS events_by_id ON events (id, seq)",
        "CREATE INDEX IF NOT EXISTS events_by_time ON events (time)",
        "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE IF NOT EXISTS counters (
            id TEXT NOT NULL, counter TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (id, counter)
        ) WITHOUT ROWID""",
        "CREATE TABLE IF NOT EXISTS requests (id TEXT NOT NULL, action TEXT NOT NULL, at REAL NOT NULL)",
        "CREATE INDEX IF NOT EXISTS requests_by_id ON requests (id, at)",
    ),
    # 2: the workers' events handed to the collector (backups)
    (
        """CREATE TABLE IF NOT EXISTS handoff (
            n INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
            type TEXT NOT NULL, detail TEXT NOT NULL, key TEXT)""",
    ),
    # 3: every hand-off in that one table, by kind: the stop requests move in
    (
        "ALTER TABLE handoff ADD COLUMN kind TEXT NOT NULL DEFAULT 'event'",
        "INSERT INTO handoff (time, id, name, type, detail, kind) SELECT at, id, '', action, '{}', 'request' "
        "FROM requests",
        "DROP TABLE requests",
        "CREATE INDEX handoff_by_kind ON handoff (kind, id, time)",
    ),
)
EVENT, REQUEST = "event", "request"
_COLUMNS = "seq, time, id, name, type, detail"


#: The start of every cgroup OOM-kill counter's name in `counters`.
OOM_COUNTER = "oom_kills@"


def oom_counter(started_at: int | None) -> str:
    """The `counters` name of a container's cgroup OOM-kill count in one life (start)."""
    return f"{OOM_COUNTER}{started_at}"


@dataclass(frozen=True)
class Event:
    seq: int
    time: float
    id: str
    name: str
    type: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "detail": self.detail,
        }

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Event:
        return cls(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))


class Journal:
    """The journal file; thread-safe (one connection behind a lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = connect(path)
        self._lock = threading.Lock()
        with self._lock:
            migrate(self._db, MIGRATIONS)
        #: Set after each append (the webhook sender in the same process waits on it).
        self.appended = threading.Event()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing (the collector process) --

    def append(
        self,
        time_: float,
        container_id: str,
        name: str,
        type_: str,
        detail: dict[str, Any],
        *,
        key: str | None = None,
        state: dict[str, str] | None = None,
    ) -> Event | None:
        """Add one event (and set `state` in the same transaction); None when `key` is
        already in the journal (the state is still set)."""
        body = json.dumps(detail, separators=(",", ":"), sort_keys=True)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events (time, id, name, type, detail, key) VALUES (?,?,?,?,?,?)",
                (time_, container_id, name, type_, body, key),
            )
            seq = cur.lastrowid if cur.rowcount == 1 else None
            self._set_state(state or {})
        if seq is None:
            return None
        self._appended()
        return Event(seq, time_, container_id, name, type_, detail)

    def seen(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM events WHERE key = ?", (key,)).fetchone() is not None

    def set_state(self, **values: str) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._set_state(values)

    def _set_state(self, values: dict[str, str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", list(values.items()))

    def state(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def counter(self, container_id: str, counter: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM counters WHERE id = ? AND counter = ?", (container_id, counter)
            ).fetchone()
        return None if row is None else int(row[0])

    def set_counter(self, container_id: str, counter: str, value: int) -> None:
        self.set_counters([(container_id, counter, value)])

    def counters(self, prefix: str) -> dict[tuple[str, str], int]:
        """Every container's counters whose name starts with `prefix`, by (id, name): one
        query for a job that reads them all each time."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, counter, value FROM counters WHERE substr(counter, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        return {(cid, name): int(value) for cid, name, value in rows}

    def set_counters(self, rows: Sequence[tuple[str, str, int]]) -> None:
        """(id, counter, value) rows, in one transaction."""
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO counters (id, counter, value) VALUES (?, ?, ?)", rows)

    def forget_counters(self, container_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM counters WHERE id = ?", (container_id,))

    def prune(self, before: float) -> int:
        """Forget events (and stop requests) older than `before`; returns how many events went."""
        with self._lock, self._db:
            n = self._db.execute("DELETE FROM events WHERE time < ?", (before,)).rowcount
            self._db.execute(
                "DELETE FROM handoff WHERE kind = ? AND time < ?", (REQUEST, min(before, time.time() - 3600))
            )
        return n

    # -- written by the workers --

    def note_request(self, container_id: str, action: str, at: float | None = None) -> None:
        """Record that `action` (stop, restart, delete) was asked through dockerlink."""
        self._put(REQUEST, time.time() if at is None else at, container_id, "", action, {})

    def requested(self, container_id: str, after: float) -> str | None:
        """The latest action asked for this container at or after `after`, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT type FROM handoff WHERE kind = ? AND id = ? AND time >= ? ORDER BY time DESC LIMIT 1",
                (REQUEST, container_id, after),
            ).fetchone()
        return None if row is None else row[0]

    def hand_off(
        self, time_: float, container_id: str, name: str, type_: str, detail: dict[str, Any], *, key: str | None = None
    ) -> None:
        """A worker's event, for the collector to journal (`take_handoffs`); `key` makes a
        second hand-off of the same event a no-op there."""
        self._put(EVENT, time_, container_id, name, type_, detail, key)

    def ask(self, kind: str, container_id: str) -> None:
        """(A worker) ask the collector's job that reads `kind` to do it for this container."""
        self._put(kind, time.time(), container_id, "", kind, {})

    def asked(self, kind: str, limit: int = 1000) -> list[tuple[int, str]]:
        """(The collector) what is asked of `kind`, oldest first: (row number, container id)."""
        with self._lock:
            return self._db.execute(
                "SELECT n, id FROM handoff WHERE kind = ? ORDER BY n LIMIT ?", (kind, limit)
            ).fetchall()

    def done(self, ns: Iterable[int]) -> None:
        """(The collector) drop what was asked and is done (`asked`'s row numbers)."""
        with self._lock, self._db:
            self._db.executemany("DELETE FROM handoff WHERE n = ?", [(n,) for n in ns])

    def set_value(self, kind: str, container_id: str, value: dict[str, Any] | None) -> None:
        """(A worker) the one current value of `kind` for a container, replacing any before
        it in one transaction (None: none). Never taken: read with `values`."""
        body = json.dumps(value, separators=(",", ":"), sort_keys=True)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM handoff WHERE kind = ? AND id = ?", (kind, container_id))
            if value is not None:
                self._db.execute(
                    "INSERT INTO handoff (kind, time, id, name, type, detail) VALUES (?, ?, ?, '', ?, ?)",
                    (kind, time.time(), container_id, kind, body),
                )

    def values(self, kind: str) -> dict[str, dict[str, Any]]:
        """Each container's current value of `kind` (`set_value`)."""
        with self._lock:
            rows = self._db.execute("SELECT id, detail FROM handoff WHERE kind = ?", (kind,)).fetchall()
        return {container_id: json.loads(body) for container_id, body in rows}

    def _put(
        self, kind: str, time_: float, container_id: str, name: str, type_: str, detail: dict, key: str | None = None
    ) -> None:
        body = json.dumps(detail, separators=(",", ":"), sort_keys=True)
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO handoff (kind, time, id, name, type, detail, key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, time_, container_id, name, type_, body, key),
            )

    def take_handoffs(self, limit: int = 100) -> list[Event]:
        """(The collector) journal the oldest handed-off events, in the order they were
        handed off, removing them in the same transaction; the events written."""
        made = []
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            rows = self._db.execute(
                "SELECT n, time, id, name, type, detail, key FROM handoff WHERE kind = ? ORDER BY n LIMIT ?",
                (EVENT, limit),
            ).fetchall()
            for n, time_, cid, name, type_, body, key in rows:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO events (time, id, name, type, detail, key) VALUES (?,?,?,?,?,?)",
                    (time_, cid, name, type_, body, key),
                )
                if cur.rowcount == 1:
                    made.append(Event(cur.lastrowid, time_, cid, name, type_, json.loads(body)))
                self._db.execute("DELETE FROM handoff WHERE n = ?", (n,))
        if made:
            self._appended()
        return made

    def _appended(self) -> None:
        """After a commit that added events: wake the webhook sender in this process and
        the parked waits of every worker (the bell, `events/bell.py`)."""
        self.appended.set()
        ring(self.path)

    # -- reading --

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def read(
        self,
        since: int = 0,
        *,
        container: str | None = None,
        types: Iterable[str] = (),
        limit: int = 100,
    ) -> list[Event]:
        """Events after `since` in seq order; with `container` (a full id), that container's
        only: never by name, which an earlier container may have had (`feed.container_of`)."""
        where = ["seq > ?"]
        args: list[Any] = [since]
        if container is not None:
            where.append("id = ?")
            args.append(container)
        types = list(types)
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            args += types
        sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [Event.from_row(r) for r in rows]

    def undelivered(self, after: int, limit: int = 1) -> list[Event]:
        return self.read(after, limit=limit)

    def backlog(self, delivered: int) -> tuple[int, float | None]:
        """(events after `delivered`, time of the oldest of them or None)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), MIN(time) FROM events WHERE seq > ?", (delivered,)).fetchone()
        n, oldest = row
        return int(n), oldest
