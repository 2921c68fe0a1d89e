"""The daily schedule without a daemon, time injected: each site's moment in the window
(stable, spread), due once a day, one catch-up after days down, a cap on how many run at
once, a site still being backed up skipped; the job taking real `Backups` of a fake
engine (records, journal events, the listing's `last_backup`); the retention job once a
day over every target."""

from __future__ import annotations

import calendar
import hashlib
import json
import threading
import time
from collections import Counter

import pytest

from dockerlink.backups import Catalog, Record
from dockerlink.backups.policy import Retention
from dockerlink.backups.schedule import Scheduler, latest_slot, offset, retention_job, schedule_job, state_file
from dockerlink.config import Config, ConfigError
from dockerlink.engine import ContainerSummary, ServerError
from dockerlink.errors import Conflicting
from dockerlink.events.hooks import backup_events
from dockerlink.events.journal import Journal
from tests.fakes import FakeEngine
from tests.waiting import until

LABELS = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}


def at(stamp: str) -> float:
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")))


class Clock:
    def __init__(self, start: str) -> None:
        self.now = at(start)

    def __call__(self) -> float:
        return self.now

    def set(self, stamp: str) -> None:
        self.now = at(stamp)


class Stepper:
    """A job's `wait`: once the backups it started have ended, moves the clock to the next
    of `stamps`; a stop after the last. `waited`: the seconds each call was asked."""

    def __init__(self, clock: Clock, *stamps: str) -> None:
        self._clock, self._steps = clock, iter(stamps)
        self.waited: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.waited.append(seconds)
        until(lambda: not any(t.name.startswith("backup-") for t in threading.enumerate()), "the backups ended")
        stamp = next(self._steps, None)
        if stamp is None:
            return True
        self._clock.set(stamp)
        return False


# -- the moment of each site ------------------------------------------------------------------


def test_a_sites_offset_is_a_hash_of_its_full_id_inside_the_window():
    cid = "4f2c9a" + "0" * 58
    by_hand = int(hashlib.sha256(cid.encode()).hexdigest()[:16], 16) % 3600
    assert offset(cid, 60) == by_hand
    assert offset(cid, 60) == offset(cid, 60)  # stable: a restart does not move it
    assert offset(cid, 0) == 0


def test_a_thousand_sites_spread_over_the_window():
    ids = [hashlib.sha256(f"site{i}".encode()).hexdigest() for i in range(1000)]
    offsets = [offset(i, 60) for i in ids]
    assert all(0 <= o < 3600 for o in offsets)
    per_ten_minutes = Counter(o // 600 for o in offsets)
    assert sorted(per_ten_minutes) == [0, 1, 2, 3, 4, 5]
    assert min(per_ten_minutes.values()) > 100  # 166 each when even; none left nearly empty


def test_the_latest_slot_is_that_time_of_day_today_or_yesterday():
    two_thirty = 2 * 3600 + 30 * 60
    assert latest_slot(two_thirty, at("2026-12-04 01:00:00")) == at("2026-12-03 02:30:00")
    assert latest_slot(two_thirty, at("2026-12-04 02:30:00")) == at("2026-12-04 02:30:00")
    assert latest_slot(two_thirty, at("2026-12-04 23:59:00")) == at("2026-12-04 02:30:00")
    # a window running over midnight: 23:30 + 50 minutes is 00:20 the next day
    assert latest_slot(23 * 3600 + 80 * 60, at("2026-12-04 00:30:00")) == at("2026-12-04 00:20:00")


# -- which sites are due --------------------------------------------------------------------


class Taker:
    """Records each take; `gate` (when set) holds every take until it is opened."""

    def __init__(self) -> None:
        self.taken: list[str] = []
        self.gate: threading.Event | None = None
        self.running = 0
        self.peak = 0
        self.refuse: set[str] = set()
        self._lock = threading.Lock()

    def take(self, ref: str, kind: str = "scheduled") -> Record:
        assert kind == "scheduled"
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if ref in self.refuse:
                raise Conflicting(f"a backup or restore of {ref} is already running")
            if self.gate is not None:
                assert self.gate.wait(20)
            with self._lock:
                self.taken.append(ref)
            return Record(backup="20261204T000000Z-00000000", name=ref, kind=kind, state="done", started=0)
        finally:
            with self._lock:
                self.running -= 1


def _site(cid: str) -> ContainerSummary:
    return ContainerSummary(id=cid, name=f"n{cid[:6]}", image="i", state="running", labels=LABELS, published=())


def _config(tmp_path, **kw) -> Config:
    settings = {"backup_schedule": "02:00", "backup_window": 60, "backup_concurrency": 2, **kw}
    return Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"), **settings)


def _scheduler(tmp_path, clock, sites, taker, **kw) -> Scheduler:
    return Scheduler(
        _config(tmp_path, **kw), taker, lambda: sites, state=state_file(str(tmp_path / "s.sqlite3")), clock=clock
    )


def _run(scheduler: Scheduler) -> int:
    started = scheduler.run_due(lambda _s: False)
    until(lambda: not scheduler.running, "the scheduled backups ended")
    return started


A = "a" * 64


def test_a_site_is_due_once_a_day_at_its_own_moment(tmp_path):
    clock, taker = Clock("2026-12-04 12:00:00"), Taker()
    s = _scheduler(tmp_path, clock, [_site(A)], taker)
    moment = at("2026-12-05 02:00:00") + offset(A, 60)
    assert _run(s) == 0  # first seen at noon: its first slot is tomorrow's
    clock.now = moment - 1
    assert _run(s) == 0
    clock.now = moment
    assert _run(s) == 1
    clock.now = moment + 3600
    assert _run(s) == 0  # taken: not again today
    clock.now = moment + 86400 - 1
    assert _run(s) == 0
    clock.now = moment + 86400
    assert _run(s) == 1
    assert taker.taken == [A, A]


def test_after_three_days_down_a_site_catches_up_once_not_three_times(tmp_path):
    clock, taker = Clock("2026-12-04 12:00:00"), Taker()
    s = _scheduler(tmp_path, clock, [_site(A)], taker)
    _run(s)
    clock.now = at("2026-12-05 02:00:00") + offset(A, 60)
    assert _run(s) == 1
    # the collector stops; it starts again three days and a half later
    clock.set("2026-12-08 15:00:00")
    restarted = _scheduler(tmp_path, clock, [_site(A)], taker)
    assert _run(restarted) == 1
    assert _run(restarted) == 0
    clock.set("2026-12-08 23:59:00")
    assert _run(restarted) == 0
    clock.now = at("2026-12-09 02:00:00") + offset(A, 60)
    assert _run(restarted) == 1
    assert len(taker.taken) == 3


def test_a_restart_before_the_slot_takes_nothing_early(tmp_path):
    clock, taker = Clock("2026-12-04 12:00:00"), Taker()
    _run(_scheduler(tmp_path, clock, [_site(A)], taker))
    clock.set("2026-12-04 20:00:00")
    assert _run(_scheduler(tmp_path, clock, [_site(A)], taker)) == 0
    assert json.loads(state_file(str(tmp_path / "s.sqlite3")).read_text()) == {A: at("2026-12-04 12:00:00")}


def test_no_more_than_the_cap_run_at_once_and_a_running_site_is_not_started_again(tmp_path):
    ids = [f"{i:x}" * 64 for i in range(1, 6)]
    clock, taker = Clock("2026-12-04 12:00:00"), Taker()
    s = _scheduler(tmp_path, clock, [_site(i) for i in ids], taker, backup_concurrency=2)
    _run(s)
    clock.set("2026-12-05 03:00:00")  # every site's slot has come
    taker.gate = threading.Event()
    done = threading.Thread(target=s.run_due, args=(lambda _s: False,))
    done.start()
    until(lambda: taker.running == 2, "two backups running")
    assert len(s.running) == 2
    assert [site.id for site in s.due()] == [i for i in sorted(ids, key=lambda i: offset(i, 60)) if i not in s.running]
    taker.gate.set()
    done.join(20)
    until(lambda: not s.running, "the scheduled backups ended")
    assert sorted(taker.taken) == sorted(ids)
    assert taker.peak == 2


def test_a_site_whose_backup_is_already_running_is_skipped_until_its_next_slot(tmp_path):
    clock, taker = Clock("2026-12-04 12:00:00"), Taker()
    s = _scheduler(tmp_path, clock, [_site(A)], taker)
    _run(s)
    clock.set("2026-12-05 03:00:00")
    taker.refuse.add(A)  # the panel's backup of it holds the site lock
    assert _run(s) == 1
    assert taker.taken == []
    taker.refuse.clear()
    clock.set("2026-12-05 20:00:00")
    assert _run(s) == 0
    clock.set("2026-12-06 03:00:00")
    assert _run(s) == 1
    assert taker.taken == [A]


def test_a_deleted_site_leaves_the_schedules_state(tmp_path):
    clock, taker = Clock("2026-12-04 12:00:00"), Taker()
    sites = [_site(A), _site("b" * 64)]
    s = Scheduler(
        _config(tmp_path), taker, lambda: list(sites), state=state_file(str(tmp_path / "s.sqlite3")), clock=clock
    )
    _run(s)
    sites.pop()
    _run(s)
    assert list(json.loads(state_file(str(tmp_path / "s.sqlite3")).read_text())) == [A]


# -- the job, with real Backups of a fake engine ----------------------------------------------


def test_no_schedule_no_job(tmp_path):
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"))
    assert schedule_job(config, FakeEngine()) is None
    assert retention_job(config) is None


def test_the_job_takes_each_sites_scheduled_backup_as_the_panels_are_taken(tmp_path):
    engine = FakeEngine()
    one = engine.containers.add("site1", labels=LABELS, volumes={"/var/www": "v1"})
    two = engine.containers.add("site2", labels=LABELS, volumes={"/var/www": "v2"}, running=False)
    engine.containers.add("foreign", labels={})  # not dockerlink's: never backed up
    config = _config(tmp_path)
    clock = Clock("2026-12-04 12:00:00")
    job = schedule_job(config, engine, backup_events(Journal(config.events_path)), clock=clock)
    assert job is not None and job.name == "backup-schedule" and job.engine is engine
    wait = Stepper(clock, "2026-12-05 03:30:00", "2026-12-05 04:30:00")
    job.run(wait)
    assert wait.waited == [30.0, 30.0, 30.0]

    catalog = Catalog(config.backup_dir)
    for c in (one, two):
        records = catalog.records(c.name)
        assert [(r.kind, r.state, r.container) for r in records] == [("scheduled", "done", c.id)]
        assert catalog.archive_path(c.name, records[0].backup).is_file()
    assert catalog.records("foreign") == []
    journal = Journal(config.events_path)
    events = journal.take_handoffs()
    assert sorted((e.type, e.name, e.detail["kind"]) for e in events) == [
        ("backup_done", "site1", "scheduled"),
        ("backup_done", "site2", "scheduled"),
    ]


def test_a_failed_scheduled_backup_is_recorded_and_journaled_as_failed(tmp_path):
    engine = FakeEngine()
    c = engine.containers.add("site1", labels=LABELS, volumes={"/var/www": "v1"})
    engine.containers.archive_error = ServerError(500, "no space left on device")
    config = _config(tmp_path)
    clock = Clock("2026-12-04 12:00:00")
    schedule_job(config, engine, backup_events(Journal(config.events_path)), clock=clock).run(
        Stepper(clock, "2026-12-05 03:30:00")
    )
    records = Catalog(config.backup_dir).records("site1")
    assert [(r.kind, r.state) for r in records] == [("scheduled", "failed")]
    assert "no space left on device" in (records[0].error or "")
    events = Journal(config.events_path).take_handoffs()
    assert [(e.type, e.id) for e in events] == [("backup_failed", c.id)]


# -- the retention job ------------------------------------------------------------------------


class Target:
    name = "fake"

    def __init__(self) -> None:
        self.applied: list[tuple[str, Retention]] = []

    def sites(self) -> list[str]:
        return ["site1", "site2"]

    def apply_retention(self, site: str, policy: Retention) -> list[str]:
        self.applied.append((site, policy))
        return []


def test_the_retention_job_runs_at_start_then_once_a_day_after_the_window(tmp_path):
    config = _config(tmp_path, backup_keep=3, backup_keep_daily=7, backup_keep_weekly=4, backup_keep_monthly=6)
    clock, target = Clock("2026-12-04 12:00:00"), Target()
    wait = Stepper(clock, "2026-12-04 20:00:00", "2026-12-05 02:59:00", "2026-12-05 03:00:00", "2026-12-05 09:00:00")
    job = retention_job(config, [target], clock=clock)
    assert job is not None and job.name == "backup-retention"
    job.run(wait)
    policy = Retention(last=3, daily=7, weekly=4, monthly=6)
    # at start (never run before), then at 03:00 (02:00 + the 60-minute window) only
    assert target.applied == [("site1", policy), ("site2", policy)] * 2
    assert wait.waited[0] == 300.0 and wait.waited[2] == 60.0  # never sleeps past the next run
    # a restart the same day does not run it again
    clock.set("2026-12-05 10:00:00")
    again = Target()
    retention_job(config, [again], clock=clock).run(lambda _s: True)
    assert again.applied == []


def test_the_retention_job_exists_without_a_schedule_when_a_calendar_count_is_set(tmp_path):
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"), backup_keep_weekly=4)
    assert retention_job(config, [Target()]) is not None


@pytest.mark.parametrize("raw", ["2:30", "24:00", "02:60", "0230", "noon"])
def test_a_schedule_that_is_not_a_time_of_day_is_refused(raw):
    with pytest.raises(ConfigError, match="backup_schedule"):
        Config.from_mapping({"backup_schedule": raw})


def test_the_schedule_settings_are_read():
    c = Config.from_mapping(
        {"backup_schedule": "23:30", "backup_window": "90", "backup_concurrency": "3", "backup_keep_daily": "7"}
    )
    assert (c.backup_schedule, c.backup_window, c.backup_concurrency, c.backup_keep_daily) == ("23:30", 90, 3, 7)
    assert Config.from_mapping({"backup_schedule": ""}).backup_schedule is None
