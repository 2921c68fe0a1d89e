"""The stats history: one SQLite file (WAL) that the collector writes and every worker reads.

Tiers (docs/contract.md §3.2): every sample for 4 hours (tier 0); one point per 2 minutes for a day
(tier 1); one point per 20 minutes for a week (tier 2). A downsampled point is keyed by the
start of its window and holds the mean CPU % and memory used of the window's samples, the
sum of their net deltas (so totals survive) and, for limits and cumulative counters, the
values of the window's last sample. Both coarse tiers are rolled up from tier 0 as soon as
a window closes, hours before its samples age out; a tier is pruned only up to a boundary
of the next coarser tier, so the tiers tile time without gaps or overlap and a merged
history counts every byte once.

Layout, chosen for the collector's cost per round:
- `recent` (tier 0) is clustered by time, `(ts, cid)`: a round is one contiguous run of
  rows and pruning removes one from the other end, so a round dirties a handful of pages
  whatever the number of containers (clustered by container, every container's row lands
  on its own page, and a round of 200 cost ~80 µs of CPU per container in page writes).
  One container's samples are read by seeking `(ts, cid)` for each round in `rounds`.
- `points` (tiers 1 and 2) is clustered by container: written every 2 or 20 minutes,
  read as one range per container.
- Each point is stored with its rendered JSON (rendering.py): a point never changes once
  written, and a week-long answer is then a join of stored text, not 20 000 numbers
  printed at each query.
- A tier-0 row also keeps the raw reading it was derived from (when it was read, the CPU
  time counter), so the first CPU % after a restart of the service is measured against
  the last reading before it.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..storage import Migration, connect, migrate
from .arithmetic import finite
from .recovery import FORGET, HandOff, heal_lock, is_corrupt, legacy_forgets, move_aside
from .rendering import fill_cpu_ceiling, join, render, with_counts
from .samples import Reading, Sample

__all__ = ["StatsStore", "Tier", "TIERS", "SCALES", "HOUR", "DAY"]

log = logging.getLogger("dockerlink.stats")


@dataclass(frozen=True)
class Tier:
    level: int
    width: float  # seconds per point; 0 = every sample
    keep: float  # seconds of history kept


HOUR = 3600.0
DAY = 24 * HOUR
TIERS = (Tier(0, 0, 4 * HOUR), Tier(1, 120, DAY), Tier(2, 1200, 7 * DAY))
#: `scale` query values → tier level (the Next.js panel sends `hour` and `4hours`, the PHP
#: one `instant`: all three are the 4-hour tier of every sample).
SCALES = {"instant": 0, "hour": 0, "4hours": 0, "day": 1, "week": 2}

_VALUES = "cpu REAL NOT NULL, cpu_limit REAL, mem_used REAL NOT NULL, mem_limit REAL NOT NULL, "
_VALUES += "net_up INTEGER NOT NULL, net_down INTEGER NOT NULL, delta_up INTEGER NOT NULL, "
_VALUES += "delta_down INTEGER NOT NULL, body TEXT NOT NULL"
# Version 1: the first layout (tier-0 rows without process and OOM counts). Files made
# before versions were kept are at 0 whatever their layout: every step of them is idempotent.
_SCHEMA_V1 = (
    "CREATE TABLE IF NOT EXISTS containers (cid INTEGER PRIMARY KEY, container TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS rounds (ts REAL PRIMARY KEY) WITHOUT ROWID",
    f"""CREATE TABLE IF NOT EXISTS recent (
        ts REAL NOT NULL, cid INTEGER NOT NULL, {_VALUES}, read_at REAL NOT NULL, cpu_ns INTEGER NOT NULL,
        PRIMARY KEY (ts, cid)
    ) WITHOUT ROWID""",
    f"""CREATE TABLE IF NOT EXISTS points (
        cid INTEGER NOT NULL, tier INTEGER NOT NULL, ts REAL NOT NULL, {_VALUES}, PRIMARY KEY (cid, tier, ts)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS points_by_time ON points (tier, ts)",
    "CREATE TABLE IF NOT EXISTS forgotten (container TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS resets (at REAL PRIMARY KEY, moved_to TEXT NOT NULL) WITHOUT ROWID",
)
_BUSY_MS = 10000
#: How much of the file a reader maps. Every mapped page it touches counts in its RSS: the
#: collector, which reads each round's rows again for the roll-ups, maps none (at 1000
#: sites an hour of rounds left it 123 MiB of RSS mapped, 36 MiB without; as fast).
MMAP_BYTES = 256 << 20
#: How long a delete waits on a locked database before leaving the history to the collector.
_FORGET_BUSY_MS = 2000
_T = TypeVar("_T")


def _heals(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run `method`; if the file turns out corrupt, move it aside, start afresh, run it again."""

    @functools.wraps(method)
    def run(self: StatsStore, *args: Any, **kw: Any) -> _T:
        try:
            return method(self, *args, **kw)
        except sqlite3.DatabaseError as exc:
            if not is_corrupt(exc):
                raise
            self.heal(exc)
        return method(self, *args, **kw)

    return run


_COLUMNS = "ts, cpu, cpu_limit, mem_used, mem_limit, net_up, net_down, delta_up, delta_down"
_INSERT_RECENT = (
    f"INSERT OR REPLACE INTO recent (cid, {_COLUMNS}, body, read_at, cpu_ns, pids, oom_kills)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_POINT = f"INSERT OR REPLACE INTO points (cid, tier, {_COLUMNS}, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
# One container's recent samples: a seek of (ts, cid) for each round, in time order.
_RECENT = (
    "SELECT {columns} FROM rounds CROSS JOIN recent r ON r.ts = rounds.ts AND r.cid = ?"
    " WHERE rounds.ts > ? AND rounds.ts <= ? ORDER BY rounds.ts"
)
_FIRST_RECENT = (
    "SELECT rounds.ts FROM rounds CROSS JOIN recent r ON r.ts = rounds.ts AND r.cid = ? ORDER BY rounds.ts LIMIT 1"
)
_POINTS = "SELECT {columns} FROM points WHERE cid = ? AND tier = ? AND ts > ? AND ts <= ? ORDER BY ts"
_FIRST_POINT = "SELECT MIN(ts) FROM points WHERE cid = ? AND tier = ?"
_LAST_POINT = "SELECT MAX(ts) FROM points WHERE cid = ? AND tier = ?"
# Per coarse window: mean CPU and memory, summed deltas, and (SQLite's bare columns beside
# the single max()) the limits and cumulative counters of the window's last sample, OOM
# kills included; the most processes any sample saw (the figure to hold against a pids
# limit: a mean would hide the burst that reached it).
_ROLLUP = """
SELECT cid, window, cpu, cpu_limit, mem_used, mem_limit, net_up, net_down, delta_up, delta_down, top.pids, oom_kills
FROM (
    SELECT cid, CAST(ts / :width AS INTEGER) * :width AS window, MAX(ts), AVG(cpu) AS cpu, cpu_limit,
           AVG(mem_used) AS mem_used, mem_limit, net_up, net_down,
           SUM(delta_up) AS delta_up, SUM(delta_down) AS delta_down, oom_kills
    FROM recent WHERE ts >= :lo AND ts < :hi
    GROUP BY cid, window
) JOIN (
    SELECT cid, CAST(ts / :width AS INTEGER) * :width AS window, MAX(pids) AS pids
    FROM recent WHERE ts >= :lo AND ts < :hi
    GROUP BY cid, window
) top USING (cid, window)
"""
# The last round's row of each container (the primary key (ts, cid) makes it one range).
_LATEST = (
    "SELECT c.container, r.ts, r.cpu_ns, r.cpu AS cpu_percent, r.mem_used, r.mem_limit, r.net_up, r.net_down,"
    " r.pids, r.oom_kills"
    " FROM recent r JOIN containers c USING (cid) WHERE r.ts = ?"
)
_END = 1e18  # later than any timestamp
_EDGE = 1e-3  # a window's end, as an exclusive bound: a sample at exactly the end is the next window's


def _add_counts(db: sqlite3.Connection) -> None:
    """Version 2: tier-0 rows gain `pids` and `oom_kills` (0 in older rows)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(recent)")}
    for column in ("pids", "oom_kills"):
        if column not in have:
            db.execute(f"ALTER TABLE recent ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")


#: The schema's versions, in order (`PRAGMA user_version` is how many of them a file has).
MIGRATIONS: tuple[Migration, ...] = (_SCHEMA_V1, _add_counts)


def _align(ts: float, width: float) -> float:
    return math.floor(ts / width) * width if width else ts


def _clean(s: Sample) -> Sample:
    """The sample with every float finite: the store never holds a NaN or an infinity."""
    floats = (s.cpu_percent, s.memory_used, s.memory_limit, 0.0 if s.cpu_limit is None else s.cpu_limit)
    if all(map(math.isfinite, floats)):
        return s
    return s._replace(
        cpu_percent=finite(s.cpu_percent),
        cpu_limit=None if s.cpu_limit is None else finite(s.cpu_limit),
        memory_used=finite(s.memory_used),
        memory_limit=finite(s.memory_limit),
    )


class StatsStore:
    """History of every sampled container. Safe to share between threads: each thread
    gets its own connection; WAL lets readers run while the collector writes."""

    def __init__(
        self, path: str, *, prune_budget: int = 20000, handoff: HandOff | None = None, mmap_bytes: int = MMAP_BYTES
    ) -> None:
        self.path = path
        self.mmap_bytes = mmap_bytes
        self.handoff = handoff  # where a worker asks the collector to drop what it could not
        self.prune_budget = prune_budget  # rows per tier and call, at most (about)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._cids: dict[str, int] = {}  # the writer's cache of container id -> row id
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._open()  # create the schema now: a bad path fails at start, not on the first request

    # --- connections -------------------------------------------------------------------

    @_heals
    def _open(self) -> None:
        self._db()

    def _inode(self) -> int | None:
        try:
            return os.stat(self.path).st_ino
        except FileNotFoundError:
            return None

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, to the file now at `path`: one that was moved aside
        (healed, by this process or another) is closed and a new one opened."""
        db = getattr(self._local, "db", None)
        if db is not None and self._inode() != self._local.inode:
            self._drop_local()
            self._cids.clear()  # row ids of the file that went
            db = None
        if db is None:
            self._local.inode = self._inode()
            db = connect(self.path, busy_ms=_BUSY_MS)
            with self._lock:
                self._connections.append(db)
            self._local.db = db
            db.execute(f"PRAGMA mmap_size={self.mmap_bytes:d}")  # reads through the page cache, not a pread each
            migrate(db, MIGRATIONS)
            self._local.inode = self._inode()
        return db

    def _drop_local(self) -> None:
        db = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            with self._lock:
                if db in self._connections:
                    self._connections.remove(db)
            try:
                db.close()
            except sqlite3.Error:
                pass

    def heal(self, reason: BaseException | str) -> str | None:
        """Move a corrupt file aside (kept) and start a fresh, empty history; returns where
        the file went, or None when another thread or process had already done it."""
        failed_on = getattr(self._local, "inode", None)
        with heal_lock(self.path):
            if failed_on is not None and self._inode() not in (failed_on, None):
                self._drop_local()  # healed meanwhile by someone else: reopen the new file
                return None
            self._drop_local()
            aside = move_aside(self.path)
            self._cids.clear()
            now = time.time()
            self._db().execute("INSERT OR REPLACE INTO resets (at, moved_to) VALUES (?, ?)", (now, aside))
        log.critical(
            "STATS DATABASE CORRUPT (%s): moved %s to %s and started a fresh, empty history", reason, self.path, aside
        )
        return aside

    @_heals
    def check(self) -> None:
        """Read the whole file once (the collector, at start): corruption in pages no query
        has touched yet is found now, and healed."""
        result = self._db().execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            self.heal(f"quick_check: {result}")

    @_heals
    def last_reset(self) -> dict[str, Any] | None:
        """When the history last started afresh after corruption, and where the old file went."""
        row = self._db().execute("SELECT at, moved_to FROM resets ORDER BY at DESC LIMIT 1").fetchone()
        return None if row is None else {"at": row[0], "moved_to": row[1]}

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()
        self._cids.clear()

    def _cid(self, db: sqlite3.Connection, container_id: str) -> int:
        cid = self._cids.get(container_id)
        if cid is None:
            row = db.execute("SELECT cid FROM containers WHERE container = ?", (container_id,)).fetchone()
            if row is None:
                cid = db.execute("INSERT INTO containers (container) VALUES (?)", (container_id,)).lastrowid
            else:
                cid = row[0]
            self._cids[container_id] = cid
        return cid

    def _lookup(self, db: sqlite3.Connection, container_id: str) -> int | None:
        row = db.execute("SELECT cid FROM containers WHERE container = ?", (container_id,)).fetchone()
        return None if row is None else row[0]

    # --- the collector's side ----------------------------------------------------------

    @_heals
    def previous_readings(self) -> dict[str, Reading]:
        """The last reading of every container (that of its latest tier-0 row)."""
        rows = self._db().execute(
            "SELECT c.container, MAX(r.ts), r.read_at, r.cpu_ns, r.net_down, r.net_up, r.mem_limit"
            " FROM recent r JOIN containers c USING (cid) GROUP BY r.cid"
        )
        return {
            container: Reading(container, read_at, limit > 0, cpu_ns=cpu_ns, net_rx=rx, net_tx=tx)
            for container, _, read_at, cpu_ns, rx, tx, limit in rows
        }

    @_heals
    def record_round(self, ts: float, entries: Iterable[tuple[Reading, Sample]], host_cpus: int = 0) -> None:
        """Write one round in one transaction: each container's sample with the reading it
        was derived from, the round's time `ts` (what /v1/health reports) and the host's
        cores (the CPU ceiling an unlimited container reports)."""
        db = self._db()
        with _transaction(db):
            # A container deleted while this round was sampling it must not come back.
            gone = {c for (c,) in db.execute("SELECT container FROM forgotten")}
            rows = [
                (
                    self._cid(db, r.container_id),
                    *s,
                    with_counts(render(s), r.pids, r.oom_kills),
                    r.read_at,
                    r.cpu_ns,
                    r.pids,
                    r.oom_kills,
                )
                for r, sample in entries
                if r.container_id not in gone
                for s in [_clean(sample)]
            ]
            db.executemany(_INSERT_RECENT, rows)
            db.executemany("INSERT OR IGNORE INTO rounds (ts) VALUES (?)", {(row[1],) for row in rows})
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_round', ?)", (ts,))
            if host_cpus > 0:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('host_cpus', ?)", (host_cpus,))

    @_heals
    def maintain(self, now: float) -> None:
        """Roll up closed windows into the coarse tiers, then prune what aged out, about
        `prune_budget` rows per tier per call at most (a backlog is worked off over a few rounds);
        and drop the history of containers whose delete could not (see `forget`)."""
        db = self._db()
        with legacy_forgets(self.path) as ids:
            for container_id in ids:
                self._forget(container_id, now)
        if self.handoff is not None and (asked := self.handoff.asked(FORGET)):
            for _, container_id in asked:
                self._forget(container_id, now)
            self.handoff.done(n for n, _ in asked)  # only once dropped: a failure asks again
        with _transaction(db):
            for tier in TIERS[1:]:
                self._roll_up(db, tier, now)
            self._prune_recent(db, _align(now - TIERS[0].keep, TIERS[1].width))
            self._prune_points(db, TIERS[1].level, _align(now - TIERS[1].keep, TIERS[2].width))
            self._prune_points(db, TIERS[2].level, now - TIERS[2].keep)
            db.execute("DELETE FROM forgotten WHERE at < ?", (now - HOUR,))
            orphans = 0
            if db.execute("SELECT value FROM meta WHERE key = 'swept'").fetchone() != (_align(now, HOUR),):
                # hourly: drop the id of a container nothing refers to anymore
                orphans = db.execute(
                    "DELETE FROM containers WHERE cid NOT IN (SELECT DISTINCT cid FROM points)"
                    " AND cid NOT IN (SELECT DISTINCT cid FROM recent)"
                ).rowcount
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('swept', ?)", (_align(now, HOUR),))
        if orphans:
            self._cids.clear()

    def _roll_up(self, db: sqlite3.Connection, tier: Tier, now: float) -> None:
        key = f"rolled_up_{tier.level}"
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        hi = _align(now, tier.width)
        lo = row[0] if row else 0.0
        if hi <= lo:
            return
        windows = db.execute(_ROLLUP, {"width": tier.width, "lo": lo, "hi": hi}).fetchall()
        points = [
            (cid, tier.level, *s, with_counts(render(s), pids, oom_kills))
            for cid, *values, pids, oom_kills in windows
            for s in [Sample(*values)]
        ]
        db.executemany(_INSERT_POINT, points)
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, hi))

    def _prune_recent(self, db: sqlite3.Connection, cutoff: float) -> None:
        # Whole rounds, oldest first, about `prune_budget` rows' worth.
        oldest = db.execute("SELECT MIN(ts) FROM rounds").fetchone()[0]
        if oldest is None or oldest >= cutoff:
            return
        per_round = db.execute("SELECT COUNT(*) FROM recent WHERE ts = ?", (oldest,)).fetchone()[0]
        bound = db.execute(
            "SELECT ts FROM rounds WHERE ts < ? ORDER BY ts LIMIT 1 OFFSET ?",
            (cutoff, max(1, self.prune_budget // max(1, per_round))),
        ).fetchone()
        upto = cutoff if bound is None else bound[0]
        db.execute("DELETE FROM recent WHERE ts < ?", (upto,))
        db.execute("DELETE FROM rounds WHERE ts < ?", (upto,))

    def _prune_points(self, db: sqlite3.Connection, level: int, cutoff: float) -> None:
        bound = db.execute(
            "SELECT ts FROM points WHERE tier = ? AND ts < ? ORDER BY ts LIMIT 1 OFFSET ?",
            (level, cutoff, self.prune_budget),
        ).fetchone()
        db.execute("DELETE FROM points WHERE tier = ? AND ts < ?", (level, cutoff if bound is None else bound[0]))

    def forget(self, container_id: str, now: float | None = None) -> bool:
        """Drop a container's whole history (dockerlink deleted it). A tombstone keeps a
        round that was already sampling it from writing it back.

        Never raises: the container is gone already, and its delete must not fail for its
        history. When the database is locked (past a short wait) or broken, the collector
        is asked through the hand-off and its next `maintain` drops it; returns False then."""
        try:
            db = self._db()
            db.execute(f"PRAGMA busy_timeout = {_FORGET_BUSY_MS}")
            try:
                self._forget(container_id, time.time() if now is None else now)
            finally:
                db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            return True
        except Exception as exc:  # noqa: BLE001 - sqlite3.Error above all; never fail the delete
            log.warning("stats history of %s not dropped now (%s); the collector will drop it", container_id, exc)
        try:
            if self.handoff is None:
                raise RuntimeError("no hand-off to the collector")
            self.handoff.ask(FORGET, container_id)
        except Exception as exc:  # noqa: BLE001 - never fail the delete
            log.error("could not ask the collector to drop the stats history of %s: %s", container_id, exc)
        return False

    @_heals
    def _forget(self, container_id: str, now: float) -> None:
        db = self._db()
        with _transaction(db):
            self._delete(db, container_id)
            db.execute("INSERT OR REPLACE INTO forgotten (container, at) VALUES (?, ?)", (container_id, now))

    def _delete(self, db: sqlite3.Connection, container_id: str) -> None:
        # The id mapping stays (another process may have it cached); `maintain` drops it
        # once nothing refers to it.
        cid = self._lookup(db, container_id)
        if cid is not None:
            # `recent` is clustered by time: a seek of (ts, cid) per round, as its readers do,
            # not a scan of every site's samples (4 h of 1000 sites: 2.9 M rows, ~0.8 s).
            db.execute("DELETE FROM recent WHERE cid = ? AND ts IN (SELECT ts FROM rounds)", (cid,))
            db.execute("DELETE FROM points WHERE cid = ?", (cid,))

    # --- the readers' side -------------------------------------------------------------

    @_heals
    def last_sample_time(self) -> float | None:
        """Unix seconds of the last completed round, or None before the first."""
        row = self._db().execute("SELECT value FROM meta WHERE key = 'last_round'").fetchone()
        return None if row is None else row[0]

    @_heals
    def latest_round(self) -> list[dict[str, float | str]]:
        """Each container's row of the last round (for /metrics, /v1/capacity): `container`,
        `ts`, the cumulative counters (`cpu_ns`, `net_up`, `net_down`) and the gauges
        (`cpu_percent` of one core, `mem_used`, `mem_limit`); a container that no longer
        exists has no row in it."""
        db = self._db()
        last = db.execute("SELECT value FROM meta WHERE key = 'last_round'").fetchone()
        if last is None:
            return []
        cursor = db.execute(_LATEST, (last[0],))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    @_heals
    def note(self, key: str, value: float) -> None:
        """Keep one figure about the collector (e.g. its last round's duration) for readers."""
        self._db().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (f"note:{key}", value))

    @_heals
    def notes(self) -> dict[str, float]:
        rows = self._db().execute("SELECT key, value FROM meta WHERE key LIKE 'note:%' OR key = 'last_round'")
        return {key.removeprefix("note:"): value for key, value in rows}

    @_heals
    def has_history(self, container_id: str) -> bool:
        db = self._db()
        cid = self._lookup(db, container_id)
        if cid is None:
            return False
        if db.execute("SELECT 1 FROM points WHERE cid = ? LIMIT 1", (cid,)).fetchone():
            return True
        return db.execute(_FIRST_RECENT, (cid,)).fetchone() is not None

    @_heals
    def history(self, container_id: str, since: float = 0.0, scale: str | None = None) -> list[Sample]:
        """Points after `since` (exclusive, as the original), ascending. All tiers merged,
        each coarse tier only where no finer one has points; or, with `scale`, that tier,
        then the finer points after its last window not yet rolled up into it (a panel
        asking for a day must not get `{}` while samples exist). Nothing counts twice."""
        return [Sample._make(row) for row in self._select(_COLUMNS, container_id, since, scale)]

    @_heals
    def history_json(self, container_id: str, since: float = 0.0, scale: str | None = None) -> str:
        """The same points as `history`, as the API's JSON object (docs/contract.md §3.2); an unlimited
        CPU shows the host's cores × 100, the effective ceiling (never null: a panel stores
        it in a non-null column)."""
        text = join([body for (body,) in self._select("body", container_id, since, scale)])
        return fill_cpu_ceiling(text, self.host_cpus() * 100.0)

    @_heals
    def host_cpus(self) -> int:
        """The host's cores as the collector last saw them (this machine's before any round)."""
        row = self._db().execute("SELECT value FROM meta WHERE key = 'host_cpus'").fetchone()
        return int(row[0]) if row else os.cpu_count() or 1

    def _select(self, columns: str, container_id: str, since: float, scale: str | None) -> list[tuple]:
        db = self._db()
        cid = self._lookup(db, container_id)
        if cid is None:
            return []
        recent = _RECENT.format(columns=", ".join(f"r.{c.strip()}" for c in columns.split(",")))
        points = _POINTS.format(columns=columns)
        rows: list[tuple] = []
        for level, after, until in self._plan(db, cid, scale):
            lo = max(since, after)
            if level == 0:
                rows += db.execute(recent, (cid, lo, until)).fetchall()
            else:
                rows += db.execute(points, (cid, level, lo, until)).fetchall()
        return rows

    @staticmethod
    def _plan(db: sqlite3.Connection, cid: int, scale: str | None) -> list[tuple[int, float, float]]:
        """(tier, after, until): the timestamps to read of each tier, oldest tier first.
        Merged, a coarse point is read only if its window ends before the finer tiers
        begin; with a scale, a finer point only after the coarser tiers' last window."""
        if scale is not None:
            top = SCALES[scale]
            plan = [(top, 0.0, _END)]
            after = 0.0
            for level in range(top, 0, -1):  # each finer tier after the coarser ones end
                last = db.execute(_LAST_POINT, (cid, level)).fetchone()
                if last is not None and last[0] is not None:
                    after = max(after, last[0] + TIERS[level].width - _EDGE)
                plan.append((level - 1, after, _END))
            return plan
        plan: list[tuple[int, float, float]] = []
        begins = _END  # where the finer tiers begin
        for tier in TIERS:
            plan.insert(0, (tier.level, 0.0, begins - tier.width))
            if tier.level == 0:
                first = db.execute(_FIRST_RECENT, (cid,)).fetchone()
            else:
                first = db.execute(_FIRST_POINT, (cid, tier.level)).fetchone()
            if first is not None and first[0] is not None:
                begins = min(begins, first[0])
        return plan


class _transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
