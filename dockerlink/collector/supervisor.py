"""Exactly one collector per service, whatever the number of gunicorn workers.

The gunicorn master (not a worker: there are several, and they come and go) starts the
collector as a child process in `when_ready`, a watchdog thread restarts it with back-off
if it dies, and `on_exit` stops it. The child also exits by itself if the master vanishes
(`--parent`), and the database lock (process.py) keeps a second collector idle.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from ..jobs import backoff

__all__ = ["CollectorSupervisor", "start_collector", "stop_collector"]

log = logging.getLogger("dockerlink.collector")


def collector_argv(parent: int) -> list[str]:
    return [sys.executable, "-m", "dockerlink.collector", "--parent", str(parent)]


class CollectorSupervisor:
    """Keeps one child process running `argv`; restarts it (1 s, doubling to 60 s; reset
    after it stayed up a minute) until `stop()`."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        poll: float = 1.0,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.argv = list(argv)
        self._poll = poll
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._log = logger or log
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._started_at = 0.0

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="dockerlink-collector-watchdog", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)
            self._started_at = time.monotonic()
        self._log.info("stats collector started (pid %s)", self.process.pid)

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.wait(self._poll):
            process = self.process
            if process is None or process.poll() is None:
                continue
            if time.monotonic() - self._started_at > 60.0:
                failures = 0
            failures += 1
            delay = backoff(failures, self._first_delay, self._max_delay)
            # gunicorn's master reaps every child (waitpid(-1)), so the exit status may read 0.
            self._log.warning(
                "stats collector (pid %s) exited (status %s); restarting in %.0f s",
                process.pid,
                process.returncode,
                delay,
            )
            if self._stopping.wait(delay):
                return
            self._spawn()
            self.restarts += 1

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the child, SIGKILL it if it has not exited within `timeout`."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if self._thread is not None:
            self._thread.join(timeout=self._poll + 1.0)
        if process is None or process.poll() is not None:
            return
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except ProcessLookupError:
            pass


_supervisor: CollectorSupervisor | None = None


def start_collector(logger: logging.Logger | None = None) -> CollectorSupervisor:
    """gunicorn `when_ready`: start this master's collector (once)."""
    global _supervisor
    if _supervisor is None:
        _supervisor = CollectorSupervisor(collector_argv(os.getpid()), logger=logger)
        _supervisor.start()
    return _supervisor


def stop_collector() -> None:
    """gunicorn `on_exit`: stop it."""
    global _supervisor
    if _supervisor is not None:
        _supervisor.stop()
        _supervisor = None
