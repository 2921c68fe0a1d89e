"""The collector's loop: rounds aligned to the period, never overlapping, backing off while
the engine is unreachable, stopped cleanly by SIGTERM or SIGINT.

`dockerlink collect` runs it on its own; the gunicorn hooks run it as a child of the master
(`python -m dockerlink.stats.runner --parent <pid>`, see supervisor.py). Either way an
exclusive lock beside the database makes sure one collector writes it: a second one waits
until the first is gone.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence

from ..config import Config
from ..engine import Engine, EngineUnavailable
from ..jobs import backoff

__all__ = ["run_forever", "Loop", "next_tick", "backoff_delay", "main"]

log = logging.getLogger("dockerlink.stats")

#: Longest pause between two attempts while the engine is unreachable.
MAX_BACKOFF = 60.0


def next_tick(now: float, interval: float) -> float:
    """The first multiple of `interval` strictly after `now`: rounds land on :00, :10, …"""
    return (math.floor(now / interval) + 1) * interval


def backoff_delay(failures: int, interval: float, cap: float = MAX_BACKOFF) -> float:
    """Seconds to wait after `failures` failed rounds in a row: doubling from the interval,
    capped (never below the interval itself)."""
    return backoff(failures, interval, max(cap, interval))


class Loop:
    """Runs `round(ts)` at every tick until `wait` reports a stop, and `prepare()` (if
    given) `prepare_ahead` seconds before each round (see `EngineSource.prepare`).

    `clock` and `wait(seconds) -> stop?` are injected so tests drive it without sleeping.
    """

    def __init__(
        self,
        round: Callable[[float], object],
        interval: float,
        *,
        clock: Callable[[], float] = time.time,
        wait: Callable[[float], bool],
        alive: Callable[[], bool] = lambda: True,
        prepare: Callable[[], object] | None = None,
        prepare_ahead: float = 0.0,
    ) -> None:
        if prepare is not None and not 0 < prepare_ahead < interval:
            raise ValueError(f"prepare_ahead must be between 0 and the interval ({interval} s)")
        self._prepare = prepare
        self._prepare_ahead = prepare_ahead
        self._round = round
        self._interval = interval
        self._clock = clock
        self._wait = wait
        self._alive = alive

    def run(self) -> int:
        failures = 0
        earliest = 0.0
        while True:
            tick = next_tick(max(self._clock(), earliest), self._interval)
            if self._prepare is not None and tick - self._clock() >= self._prepare_ahead:
                if self._wait(max(0.0, tick - self._prepare_ahead - self._clock())) or not self._alive():
                    return 0
                try:
                    self._prepare()
                except Exception:  # noqa: BLE001 - only an optimisation: the round runs anyway
                    log.exception("preparing the round at %.0f failed", tick)
            if self._wait(max(0.0, tick - self._clock())) or not self._alive():
                return 0
            started = self._clock()
            try:
                self._round(tick)
            except Exception as exc:  # noqa: BLE001 - a bad round must not end the collector
                failures += 1
                if not isinstance(exc, EngineUnavailable):
                    log.exception("round at %.0f failed", tick)
                elif failures == 1:  # said once, not at every attempt
                    log.error("%s; retrying with back-off (up to %.0f s)", exc, max(MAX_BACKOFF, self._interval))
                earliest = self._clock() + backoff_delay(failures, self._interval) - self._interval
                continue
            if failures:
                log.warning("collecting again after %d failed round(s)", failures)
            failures = 0
            earliest = 0.0
            took = self._clock() - started
            if took > self._interval:
                log.warning(
                    "round took %.1f s, longer than the %.0f s interval; skipping to the next tick",
                    took,
                    self._interval,
                )


class _StopFlag:
    """Set by SIGTERM/SIGINT; waiting on it is how the loop sleeps."""

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


def _lock(path: str, stop: _StopFlag) -> int | None:
    """An exclusive lock on `<stats_db>.lock`, waited for; None when stopped first."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not told:
                log.warning("another collector holds %s; waiting for it to stop", path)
                told = True
            if stop.wait(5.0):
                os.close(fd)
                return None


def run_forever(config: Config, *, parent: int | None = None) -> int:
    """Collect every `stats_interval` seconds until SIGTERM/SIGINT; returns the exit code."""
    from ..backups.disk import start_meter
    from ..backups.restore import start_recovery
    from .collector import Collector
    from .sampler import PRIME_AHEAD, build_sampler
    from .store import StatsStore

    stop = _StopFlag(parent)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop.set)
    os.makedirs(os.path.dirname(os.path.abspath(config.stats_db)), exist_ok=True)
    lock = _lock(os.path.abspath(config.stats_db) + ".lock", stop)
    if lock is None:
        return 0
    from ..events.hooks import disk_events
    from ..events.runner import start_event_threads

    engine = Engine(config.docker_sock, tls=config.tls)
    store = StatsStore(config.stats_db)
    store.check()  # a corrupt file is moved aside now, not found piecemeal by the queries
    sampler = build_sampler(engine)
    collector = Collector(engine.containers, sampler, store, events=engine.system, host=engine.system)
    source = "cgroup files, engine API as fallback" if sampler.cgroup_source else "engine API"
    # Events (journal, webhooks) run beside the rounds in their own threads, under the same lock.
    journal = start_event_threads(config, stop.wait, cgroups=sampler.cgroup_source is not None)
    log.info("collecting every %g s into %s (%s)", config.stats_interval, config.stats_db, source)
    start_meter(config, stop.wait, disk_events(journal))  # disk use: its own thread and rate, never in the round
    from ..isolation.keeper import start_keeper

    start_keeper(config, stop.wait)  # the site network's firewall: installed now, checked again and again
    start_recovery(config)  # restores a stopped service left half-way: finished or rolled back
    try:
        return Loop(
            collector.collect_once,
            config.stats_interval,
            wait=stop.wait,
            alive=stop.parent_alive,
            prepare=collector.prepare if config.stats_interval > 2 * PRIME_AHEAD else None,
            prepare_ahead=PRIME_AHEAD,
        ).run()
    finally:
        sampler.close()
        store.close()
        engine.close()
        os.close(lock)
        log.info("collector stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dockerlink.stats.runner", description="dockerlink stats collector")
    parser.add_argument("--parent", type=int, help="exit when this process (the gunicorn master) is gone")
    args = parser.parse_args(argv)
    level = os.environ.get("DOCKERLINK_LOGLEVEL", "info").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s [collector] %(name)s: %(message)s")
    return run_forever(Config.from_env(), parent=args.parent)


if __name__ == "__main__":
    raise SystemExit(main())
