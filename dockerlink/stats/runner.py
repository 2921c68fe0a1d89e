"""The stats rounds, a job of the background process (`dockerlink.collector`): rounds
aligned to the period, never overlapping, backing off while the engine is unreachable."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from ..config import Config
from ..engine import Engine, EngineUnavailable
from ..jobs import Job, Wait, backoff
from .collector import Collector, ContainerChanges
from .recovery import HandOff
from .sampler import PRIME_AHEAD, build_sampler
from .store import StatsStore

__all__ = ["rounds_job", "Loop", "next_tick", "backoff_delay"]

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


def rounds_job(
    config: Config, engine: Engine, handoff: HandOff | None = None, changes: ContainerChanges | None = None
) -> Job:
    """The stats rounds on `engine`: every `stats_interval` seconds, aligned, never
    overlapping, backing off while the engine is unreachable; each round also does what
    the workers asked through `handoff` (histories their deletes could not drop); the list
    of containers kept between rounds while `changes` (fed by the event follower) says none
    changed."""
    store = StatsStore(config.stats_db, handoff=handoff, mmap_bytes=0)  # the writer: RSS flat (store.MMAP_BYTES)
    store.check()  # a corrupt file is moved aside now, not found piecemeal by the queries
    sampler = build_sampler(engine, changes=changes)
    collector = Collector(engine.containers, sampler, store, changes=changes, host=engine.system)
    source = "cgroup files, engine API as fallback" if sampler.cgroup_source else "engine API"
    log.info("collecting every %g s into %s (%s)", config.stats_interval, config.stats_db, source)

    def run(wait: Wait) -> int:
        return Loop(
            collector.collect_once,
            config.stats_interval,
            wait=wait,
            prepare=collector.prepare if config.stats_interval > 2 * PRIME_AHEAD else None,
            prepare_ahead=PRIME_AHEAD,
        ).run()

    def close() -> None:
        sampler.close()
        store.close()

    return Job("stats", run, engine=engine, close=close)
