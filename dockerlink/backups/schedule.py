"""The daily backup schedule: each site at its own moment of the window, a cap on how many
run at once, at most one catch-up after the collector was down; and the daily retention
run over every target (retention.py).

`backup_schedule` (HH:MM, UTC) opens the window, `backup_window` minutes long; a site's
moment in it is fixed by a hash of its full container id (`offset`), so its backups are
24 h apart and the sites are spread evenly whatever their number. A site's slot is due
when the latest one (at or before now) is later than the time the schedule last handled
the site (`<stats_db>.schedule.json`, written by the collector alone): a site first seen
now waits for its next slot; after days down, only the latest missed slot is due, so a
site gets one catch-up, not one per missed day. Each backup goes through
`Backups.take`, the steps of the panel's `POST /v1/container/backup` (same record, same
`backup_done`/`backup_failed` events), `kind` "scheduled"; a site whose backup is still
running (the schedule's, or the panel's: the site lock) is skipped until its next slot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from ..config import Config
from ..engine import ContainerSummary, Engine, EngineError
from ..errors import Conflicting, DockerlinkError
from ..jobs import Job, Wait
from ..ownership import LABEL
from ..statefiles import StateFiles
from ..storage import read_json_object, write_atomically
from .catalog import Record
from .policy import Retention
from .retention import RetentionTarget, retention_targets
from .service import Backups, Notify

__all__ = [
    "DAY",
    "Scheduler",
    "apply_retention",
    "day_seconds",
    "latest_slot",
    "offset",
    "retention_due",
    "retention_job",
    "schedule_job",
    "state_file",
]

log = logging.getLogger("dockerlink.backups")

DAY = 86400
#: Seconds between two looks at which sites are due (one engine listing each).
TICK = 30.0


def day_seconds(hhmm: str) -> int:
    """`HH:MM` (checked by the config) → seconds after midnight."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def offset(container_id: str, window_minutes: int) -> int:
    """The site's seconds into the window: stable (its full id), evenly spread."""
    if window_minutes <= 0:
        return 0
    return int.from_bytes(hashlib.sha256(container_id.encode()).digest()[:8], "big") % (window_minutes * 60)


def latest_slot(at: int, now: float) -> float:
    """The latest moment at or before `now` that is `at` seconds after a UTC midnight (`at`
    may pass a day: the window may run over midnight)."""
    return at + math.floor((now - at) / DAY) * DAY


def state_file(stats_db: str) -> Path:
    return Path(StateFiles(stats_db=stats_db).path("schedule"))


class Taker(Protocol):
    def take(self, ref: str, kind: str = "scheduled") -> Record: ...


class Scheduler:
    """Which sites are due, and their backups, at most `backup_concurrency` at a time."""

    def __init__(
        self,
        config: Config,
        backups: Taker,
        sites: Callable[[], Sequence[ContainerSummary]],
        *,
        state: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._start = day_seconds(config.backup_schedule or "00:00")
        self._window = config.backup_window
        self._backups = backups
        self._sites = sites
        self._state = state
        self._clock = clock
        self._free = threading.BoundedSemaphore(config.backup_concurrency)
        self._lock = threading.Lock()
        self._handled: dict[str, float] = {
            k: float(v) for k, v in read_json_object(state).items() if isinstance(v, (int, float))
        }
        self.running: set[str] = set()

    def slot(self, container_id: str, now: float) -> float:
        """The site's latest slot at or before `now`."""
        return latest_slot(self._start + offset(container_id, self._window), now)

    def due(self) -> list[ContainerSummary]:
        """The sites whose latest slot came since they were last handled (and not running),
        the longest waiting first; a site seen for the first time is handled as of now."""
        now, listed = self._clock(), self._sites()
        with self._lock:
            ids = {s.id for s in listed}
            changed = ids != self._handled.keys()
            self._handled = {i: self._handled.get(i, now) for i in ids}
            if changed:
                self._save()
            due = [s for s in listed if s.id not in self.running and self.slot(s.id, now) > self._handled[s.id]]
        return sorted(due, key=lambda s: self.slot(s.id, now))

    def run_due(self, stopped: Wait) -> int:
        """Start the due sites' backups, each in its own thread, waiting for a free place
        under the cap between two; returns how many started (fewer when stopped)."""
        started = 0
        for site in self.due():
            while not self._free.acquire(timeout=1.0):
                if stopped(0):
                    return started
            with self._lock:
                self.running.add(site.id)
            threading.Thread(target=self._take, args=(site,), name=f"backup-{site.name}", daemon=True).start()
            started += 1
        return started

    def _take(self, site: ContainerSummary) -> None:
        try:
            record = self._backups.take(site.id, kind="scheduled")
            if record.state != "done":
                log.warning("scheduled backup of %s failed: %s", site.name, record.error)
        except Conflicting:
            log.info("scheduled backup of %s skipped: one is running", site.name)
        except (DockerlinkError, EngineError, OSError) as exc:
            log.warning("scheduled backup of %s not taken: %s", site.name, exc)
        except Exception:  # noqa: BLE001 - in a thread of its own: logged, never lost, the others go on
            log.exception("scheduled backup of %s failed", site.name)
        finally:
            with self._lock:
                self._handled[site.id] = self._clock()
                self.running.discard(site.id)
                self._save()
            self._free.release()

    def _save(self) -> None:
        try:
            write_atomically(self._state, json.dumps(self._handled, sort_keys=True))
        except OSError as exc:  # the next pass writes it again; a restart may then catch up once more
            log.warning("backup schedule not written to %s: %s", self._state, exc)


def schedule_job(
    config: Config,
    engine: Engine,
    notify: Notify | None = None,
    *,
    backups: Taker | None = None,
    sites: Callable[[], Sequence[ContainerSummary]] | None = None,
    clock: Callable[[], float] = time.time,
) -> Job | None:
    """The scheduled backups, as a job of the background process; None while
    `backup_schedule` is unset. `sites` (default: every container dockerlink made);
    `notify` hears each backup's end, as the panel's backups are heard."""
    if not config.backup_schedule:
        return None
    scheduler = Scheduler(
        config,
        backups or Backups(engine, config, notify or (lambda *_: None)),
        sites or (lambda: engine.containers.list(all=True, filters={"label": [LABEL]})),
        state=state_file(config.stats_db),
        clock=clock,
    )

    def run(wait: Wait) -> None:
        while True:
            try:
                scheduler.run_due(wait)
            except (EngineError, OSError) as exc:
                log.warning("scheduled backups: sites not listed: %s", exc)
            if wait(TICK):
                return

    return Job("backup-schedule", run, engine=engine)


def retention_due(config: Config) -> int:
    """Seconds after a UTC midnight when the retention job runs: at the end of the backup
    window (of 00:00 with no schedule), when the day's backups are in."""
    return day_seconds(config.backup_schedule or "00:00") + config.backup_window * 60


def retention_job(
    config: Config,
    targets: Sequence[RetentionTarget] | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
) -> Job | None:
    """The retention policy applied to every target once a day (`retention_due`), and once
    at start when a day's run was missed (`<stats_db>.retention.json`); None while neither
    the schedule nor a daily, weekly or monthly count is set (backups are then pruned only
    as they are taken, listed or uploaded, as before)."""
    policy = Retention.of(config)
    if not (config.backup_schedule or policy.by_calendar):
        return None
    walked = list(targets) if targets is not None else retention_targets(config, engine)
    at, state = retention_due(config), Path(StateFiles.of(config).path("retention"))
    last = [float(read_json_object(state).get("last") or 0)]

    def run(wait: Wait) -> None:
        while True:
            if latest_slot(at, clock()) > last[0]:
                apply_retention(walked, policy)
                last[0] = clock()
                try:
                    write_atomically(state, json.dumps({"last": last[0]}))
                except OSError as exc:  # known in this process; a restart may then run it once more
                    log.warning("retention run not recorded in %s: %s", state, exc)
            if wait(min(TICK * 10, max(1.0, latest_slot(at, clock()) + DAY - clock()))):
                return

    return Job("backup-retention", run)


def apply_retention(targets: Sequence[RetentionTarget], policy: Retention) -> dict[str, int]:
    """The policy over every site of every target; backups removed, by target. One site's
    failure is logged and the others go on."""
    removed: dict[str, int] = {}
    for target in targets:
        removed[target.name] = 0
        try:
            sites = list(target.sites())
        except (DockerlinkError, EngineError, OSError) as exc:
            log.warning("retention: the sites of %s not listed: %s", target.name, exc)
            continue
        for site in sites:
            try:
                removed[target.name] += len(target.apply_retention(site, policy))
            except (DockerlinkError, EngineError, OSError) as exc:
                log.warning("retention of %s on %s failed: %s", site, target.name, exc)
    log.info("retention applied: %s", ", ".join(f"{k}: {v} removed" for k, v in removed.items()) or "no target")
    return removed
