"""The background process, built in one place: the lock, the stop flag, the engine factory,
the jobs, their supervision; stopped cleanly by SIGTERM or SIGINT.

`dockerlink collect` runs it on its own; the gunicorn hooks run it as a child of the master
(`python -m dockerlink.collector --parent <pid>`, see supervisor.py). Either way an
exclusive lock beside the stats database makes sure one collector writes it (and the
journal): a second one waits until the first is gone.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence

from ..access.renewals import copies_job
from ..backups.disk import meter_job
from ..backups.restore import recovery_job
from ..backups.schedule import retention_job, schedule_job
from ..config import Config
from ..engine import Engine
from ..events.hooks import backup_events, disk_events
from ..events.journal import Journal
from ..events.runner import event_jobs
from ..isolation.keeper import keeper_job
from ..jobs import Job
from ..statefiles import StateFiles, acquire
from ..stats.collector import ContainerChanges
from ..stats.runner import rounds_job
from ..transfer import keeper_job as transfer_keeper
from .status import status_file
from .supervision import Supervision

__all__ = ["run_forever", "main", "StopFlag", "Engines", "build_jobs"]

log = logging.getLogger("dockerlink.collector")

#: Seconds the jobs get to end after a stop, in all (the supervisor kills after 15).
STOP_GRACE = 5.0


class StopFlag:
    """Set by SIGTERM/SIGINT; waiting on it is how every job sleeps."""

    def __init__(self, parent: int | None = None) -> None:
        self._event = threading.Event()
        self._parent = parent

    def set(self, *_: object) -> None:
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when asked to stop (or the parent died)."""
        deadline = time.monotonic() + seconds
        while not self._event.is_set() and self.parent_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._event.wait(min(left, 1.0))
        return True

    def parent_alive(self) -> bool:
        return self._parent is None or os.getppid() == self._parent


class Engines:
    """The one engine factory of the process: every job's engine, with the configured TLS
    (a TLS `tcp://` engine spoken to in plain HTTP would fail every call), each job its own
    connections; all closed at the end."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self.made: list[Engine] = []

    def __call__(self) -> Engine:
        engine = self._config.engine()
        self.made.append(engine)
        return engine

    def close(self) -> None:
        for engine in self.made:
            engine.close()


def build_jobs(config: Config, engines: Engines, journal: Journal) -> list[Job]:
    """Every job of the process, each with its own engine from `engines`. The event
    follower is the one reader of the engine's events: the rounds learn from it (`changes`)
    when to list the containers again."""
    changes = ContainerChanges()
    # the journal: the workers' hand-off (histories to drop)
    jobs = [rounds_job(config, engines(), journal, changes)]
    jobs += event_jobs(config, engines, journal, [changes])  # follower, OOM counter, webhooks: their own threads
    jobs.append(meter_job(config, engines(), disk_events(journal)))  # disk use: its own rate, never in the round
    keeper = keeper_job(config, engines(), changes)  # the site network's firewall: installed, checked again and again
    if keeper is not None:
        jobs.append(keeper)
    jobs.append(recovery_job(config, engines()))  # a restore the service left half-way: finished or rolled back
    jobs.append(transfer_keeper(config, engines(), journal))  # a transfer whose worker died: finished or rolled back
    scheduled = (schedule_job(config, engines(), backup_events(journal)), retention_job(config, engine=engines()))
    jobs += [job for job in scheduled if job is not None]  # with backup_schedule or keep counts
    tls_copies = copies_job(config)  # with tls = certbot-routes: renewed certificates copied for nginx
    if tls_copies is not None:
        jobs.append(tls_copies)
    return jobs


def _lock(path: str, stop: StopFlag) -> int | None:
    """An exclusive lock on `<stats_db>.lock`, waited for; None when stopped first."""
    told = False
    while True:
        try:
            return acquire(path, wait=False)
        except BlockingIOError:
            if not told:
                log.warning("another collector holds %s; waiting for it to stop", path)
                told = True
            if stop.wait(5.0):
                return None


def run_forever(config: Config, *, parent: int | None = None) -> int:
    """Run every job until SIGTERM/SIGINT (or the parent's end); returns the exit code."""
    stop = StopFlag(parent)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop.set)
    os.makedirs(os.path.dirname(os.path.abspath(config.stats_db)), exist_ok=True)
    lock = _lock(StateFiles.of(config).path("collector_lock"), stop)
    if lock is None:
        return 0
    engines = Engines(config)
    supervision: Supervision | None = None
    try:
        jobs = build_jobs(config, engines, Journal(config.events_path))
        supervision = Supervision(jobs, stop.wait, status=status_file(config.stats_db))
        supervision.start()
        while not stop.wait(3600.0):
            pass
        stop.set()  # the parent's end stops every job too
        left = supervision.join(STOP_GRACE)
        if left:
            log.info("jobs still ending at exit (daemon threads, gone with the process): %s", ", ".join(left))
        return 0
    finally:
        if supervision is not None:
            supervision.close()
        engines.close()
        os.close(lock)
        log.info("collector stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dockerlink.collector", description="dockerlink background process")
    parser.add_argument("--parent", type=int, help="exit when this process (the gunicorn master) is gone")
    args = parser.parse_args(argv)
    level = os.environ.get("DOCKERLINK_LOGLEVEL", "info").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s [collector] %(name)s: %(message)s")
    return run_forever(Config.from_env(), parent=args.parent)
