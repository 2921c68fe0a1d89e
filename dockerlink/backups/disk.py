"""Disk use of each site's /var/www volume, measured at a low rate, and per-site quotas.

One meter runs in the background process (`dockerlink.collector`), as a job of its own, every `disk_interval`
seconds: it never delays the 10 s sampling round. On the engine's host (a local socket and
a readable volume mountpoint) it walks the volume itself: never following symlinks, hard
links counted once, sleeping briefly every few thousand entries so it yields the disk and
the CPU, and stopping at a per-site time budget (the result then says `partial`). Elsewhere
it asks the engine's `/system/df` (bytes only). Results go to one JSON file that every
worker reads for the listing; quotas (GiB, set at create or PATCH) are handed to it through
the events journal's hand-off table (docs/architecture.md, "Hand-offs").
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..engine import Engine, EngineError
from ..events.journal import Journal
from ..jobs import Job, Wait
from ..ownership import LABEL
from ..statefiles import StateFiles, locked
from ..storage import read_json_object, write_atomically
from .service import WWW, Notify

#: The hand-off kind of a site's disk quota (a value per container: `{"gib": …}`).
QUOTA = "quota"

__all__ = [
    "Walk",
    "walk",
    "DiskMeter",
    "Quotas",
    "usage_path",
    "read_usage",
    "read_usage_file",
    "usage_file",
    "with_disk",
    "with_latest_disk",
    "meter_job",
]

log = logging.getLogger("dockerlink.disk")

GIB = 2**30
#: Entries read between two short sleeps of a walk.
YIELD_EVERY = 2000
YIELD_SECONDS = 0.005
#: Seconds one site's walk may take before it stops (and is reported partial).
SITE_BUDGET = 60.0


@dataclass(frozen=True)
class Walk:
    bytes: int
    files: int
    complete: bool


def walk(root: str, budget: float = SITE_BUDGET, clock: Callable[[], float] = time.monotonic) -> Walk:
    """Bytes allocated (as du counts them) and entries under `root`, without following a
    symlink or crossing into another file system; hard links counted once."""
    start = clock()
    used = files = seen = 0
    inodes: set[tuple[int, int]] = set()
    try:
        root_dev = os.lstat(root).st_dev
    except OSError:
        return Walk(0, 0, False)
    stack = [root]
    while stack:
        path = stack.pop()
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    seen += 1
                    if seen % YIELD_EVERY == 0:
                        time.sleep(YIELD_SECONDS)
                        if clock() - start > budget:
                            return Walk(used, files, False)
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    files += 1
                    if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                        if (st.st_dev, st.st_ino) in inodes:
                            continue
                        inodes.add((st.st_dev, st.st_ino))
                    used += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode) and st.st_dev == root_dev:
                        stack.append(entry.path)
        except OSError:
            continue
    return Walk(used, files, True)


def usage_path(config: Config) -> Path:
    return usage_file(config.stats_db)


def usage_file(stats_db: str) -> Path:
    """Where the measures of the stats database at `stats_db` are kept (beside it)."""
    return Path(StateFiles(stats_db=stats_db).path("disk"))


def read_usage(config: Config) -> dict[str, dict[str, Any]]:
    """The last measure of each site, by container id (`{}` before the first)."""
    return read_usage_file(usage_path(config))


def read_usage_file(path: Path) -> dict[str, dict[str, Any]]:
    return read_json_object(path)


def with_disk(listing: dict[str, Any], usage: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A listing's entries with `disk: {"used": GiB, "files": n, "at": unix}` where measured."""
    for entry in listing.get("success", {}).values():
        measured = usage.get(entry.get("id"))
        if measured:
            entry["disk"] = {k: measured.get(k) for k in ("used", "files", "at")}
    return listing


def with_latest_disk(history_json: str, measured: dict[str, Any] | None) -> str:
    """A stats history (JSON text) whose latest sample carries the site's last disk measure
    (disk is measured every `disk_interval`, not every sample: only the latest holds it)."""
    if not measured:
        return history_json
    samples = json.loads(history_json)
    if not samples:
        return history_json
    samples[next(reversed(samples))]["disk"] = {k: measured.get(k) for k in ("used", "files", "at")}
    return json.dumps(samples, separators=(",", ":"))


class Quotas:
    """Per-site quotas in GiB, by container id: values of kind `quota` in the events
    journal's hand-off table (the worker's own journal, or one opened at `events_db`),
    written by workers, read by the disk meter and by restores. An earlier version's
    `<stats_db>.quotas.json` is carried over once (under its lock) and removed."""

    def __init__(self, config: Config, journal: Journal | None = None) -> None:
        self._journal = journal or Journal(config.events_path)
        self._carry_over(StateFiles.of(config))

    def all(self) -> dict[str, float]:
        return {cid: value["gib"] for cid, value in self._journal.values(QUOTA).items()}

    def set(self, container_id: str, gib: float | None) -> None:
        if not gib and container_id not in self.all():
            return  # nothing to change: no write (and no commit) for a site without a quota
        self._journal.set_value(QUOTA, container_id, {"gib": gib} if gib else None)

    def _carry_over(self, files: StateFiles) -> None:
        legacy = Path(files.path("quotas"))
        if not legacy.exists():
            return
        with locked(files.path("quotas_lock")):
            try:
                quotas = json.loads(legacy.read_text())
            except FileNotFoundError:  # carried over by another worker meanwhile
                return
            except ValueError:
                quotas = {}
            have = self.all()
            for container_id, gib in (quotas if isinstance(quotas, dict) else {}).items():
                if container_id not in have and isinstance(gib, (int, float)):
                    self.set(container_id, gib)
            legacy.unlink()


class DiskMeter:
    def __init__(self, engine: Engine, config: Config, notify: Notify | None = None) -> None:
        self.engine = engine
        self.config = config
        self.quotas = Quotas(config)
        self.notify = notify or _log_event
        self.local = not engine.address.startswith("tcp://")  # the volumes are on this host

    def measure_all(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        """Measure every dockerlink site once, record it, raise quota events."""
        previous = read_usage(self.config)
        df: dict[str, int] | None = None
        results: dict[str, dict[str, Any]] = {}
        crossings: list[tuple[Any, str, dict[str, Any]]] = []
        for summary in self.engine.containers.list(all=True, filters={"label": [LABEL]}):
            try:
                c = self.engine.containers.inspect(summary.id)
                volume = c.volumes.get(WWW)
                if not volume:
                    continue
                mountpoint = self.engine.volumes.inspect(volume).mountpoint if self.local else ""
                if mountpoint and os.path.isdir(mountpoint):
                    w = walk(mountpoint)
                    entry: dict[str, Any] = {"used": round(w.bytes / GIB, 6), "files": w.files}
                    if not w.complete:
                        entry["partial"] = True
                        log.warning("disk use of %s: walk stopped at its %g s budget", c.name, SITE_BUDGET)
                else:
                    if df is None:
                        df = self.engine.system.volume_usage()
                    entry = {"used": round(max(df.get(volume, 0), 0) / GIB, 6), "files": None}
            except EngineError as exc:
                log.warning("disk use of %s: %s", summary.name, exc)
                continue
            entry["at"] = int(now or time.time())
            results[c.id] = entry
            if crossed := self._crossing(c, entry, previous.get(c.id, {})):
                crossings.append((c, *crossed))
        # The figures first, then the events: a panel that hears disk_over and reads the
        # listing sees the use that raised it.
        _write_json(usage_path(self.config), results)
        for c, kind, details in crossings:
            self.notify(kind, c.id, details)
            if kind == "disk_over" and self.config.disk_enforce == "stop" and c.running:
                self.engine.containers.stop(c.id, t=10)
        return results

    def _crossing(
        self,
        c: Any,  # noqa: ANN401
        entry: dict[str, Any],
        before: dict[str, Any],
    ) -> tuple[str, dict[str, Any]] | None:
        """Marks the entry over its quota or not; the event a crossing raises, if any."""
        quota = self.quotas.all().get(c.id)
        over = bool(quota) and entry["used"] > quota
        entry["over"] = over
        if over != bool(before.get("over")):
            return ("disk_over" if over else "disk_ok"), {"name": c.name, "used": entry["used"], "quota": quota}
        return None


def _log_event(kind: str, container_id: str, details: dict) -> None:
    log.warning("%s %s %s", kind, container_id[:12], json.dumps(details))


def _write_json(path: Path, data: object) -> None:
    write_atomically(path, json.dumps(data))


def meter_job(config: Config, engine: Engine, notify: Notify | None = None) -> Job:
    """The meter: a measure now, then every `disk_interval` until `wait` says stop."""
    meter = DiskMeter(engine, config, notify)

    def run(wait: Wait) -> None:
        while True:
            try:
                meter.measure_all()
            except (EngineError, OSError) as exc:
                log.warning("disk use not measured: %s", exc)
            if wait(config.disk_interval):
                return

    return Job("disk", run, engine=engine)
