"""Each job of the background process in its own daemon thread, kept running.

A job that raises, or returns while the process is not stopping, is dead: logged, written
to the status file as `dead` with its error (so /v1/health says `degraded` with its name)
and started again after the one back-off (`dockerlink.jobs.backoff`: 1 s doubling to 60 s;
counted afresh once it stayed up a minute). A `once` job that returns is `done`. When the
stop flag is set every job's `wait` returns True, so each ends (`stopped`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..jobs import Job, Wait, backoff
from .status import DEAD, write_status

__all__ = ["Supervision"]

log = logging.getLogger("dockerlink.collector")


class Supervision:
    #: Seconds a job must stay up for its failures to be counted afresh.
    STEADY = 60.0

    def __init__(
        self,
        jobs: Sequence[Job],
        wait: Wait,
        *,
        status: Path | None = None,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        names = [j.name for j in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self.jobs = list(jobs)
        self._wait = wait
        self._status = status
        self._first = first_delay
        self._max = max_delay
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, dict[str, Any]] = {j.name: {"state": "starting", "restarts": 0} for j in jobs}
        self._threads: dict[str, threading.Thread] = {}

    def start(self) -> None:
        self._publish()
        for job in self.jobs:
            thread = threading.Thread(target=self._keep, args=(job,), name=f"dockerlink-{job.name}", daemon=True)
            self._threads[job.name] = thread
            thread.start()

    def states(self) -> dict[str, dict[str, Any]]:
        """Each job's health line: `state` (starting, running, dead, done, stopped),
        `restarts`, and the last `error` of a job that died."""
        with self._lock:
            return {name: dict(state) for name, state in self._states.items()}

    def join(self, timeout: float) -> list[str]:
        """Wait up to `timeout` seconds in all for the jobs to end, except those `left_at_exit`;
        the names of those that did not (a daemon thread: it dies with the process)."""
        deadline = time.monotonic() + timeout
        left = {job.name for job in self.jobs if job.left_at_exit}
        waited = {name: thread for name, thread in self._threads.items() if name not in left}
        for thread in waited.values():
            thread.join(max(0.0, deadline - time.monotonic()))
        return [name for name, thread in waited.items() if thread.is_alive()]

    def close(self) -> None:
        """Release what each ended job holds (a job still running keeps its own)."""
        for job in self.jobs:
            thread = self._threads.get(job.name)
            if job.close is not None and (thread is None or not thread.is_alive()):
                try:
                    job.close()
                except Exception:  # noqa: BLE001 - closing one must not keep the others open
                    log.exception("closing job %s failed", job.name)

    def _keep(self, job: Job) -> None:
        failures = 0
        while True:
            self._set(job.name, state="running")
            started = self._clock()
            try:
                job.run(self._wait)
                error = None if job.once else "ended by itself"
            except Exception as exc:  # noqa: BLE001 - a job's failure is reported, never the process's end
                log.exception("collector job %s failed", job.name)
                error = f"{type(exc).__name__}: {exc}"
            if self._wait(0):
                self._set(job.name, state="stopped")
                return
            if error is None:
                self._set(job.name, state="done")
                return
            if self._clock() - started > self.STEADY:
                failures = 0
            failures += 1
            delay = backoff(failures, self._first, self._max)
            self._set(job.name, state=DEAD, error=error)
            log.error("collector job %s died (%s); starting it again in %.0f s", job.name, error, delay)
            if self._wait(delay):
                self._set(job.name, state="stopped")
                return
            with self._lock:
                self._states[job.name]["restarts"] += 1

    def _set(self, name: str, **change: Any) -> None:  # noqa: ANN401
        with self._lock:
            self._states[name].update(change)
        self._publish()

    def _publish(self) -> None:
        if self._status is None:
            return
        with self._lock:  # one writer at a time, and the file always the latest states
            try:
                write_status(self._status, {name: dict(state) for name, state in self._states.items()})
            except OSError as exc:
                log.warning("job states not written to %s: %s", self._status, exc)
