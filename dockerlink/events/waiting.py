"""Long-polls of `GET /v1/events?wait=`: parked requests that cost no CPU.

Each parked request sleeps on one shared `threading.Condition`; one watcher thread per
worker process asks the journal for its last seq every `poll` seconds while anybody is
parked (one indexed `MAX(seq)`, whatever the number of waiters) and wakes them all when it
moved. Nobody parked: no thread runs.

Each parked request holds one of gunicorn's gthread threads (`threads`, 8 by default), so
at most `slots` park at once per worker; the next one is refused at once (`Busy`: 429 with
`Retry-After`), and the other endpoints keep their threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from ..errors import Busy

__all__ = ["Busy", "Waiters", "default_slots"]

#: gthread threads per worker kept for the other endpoints whatever waits are parked.
RESERVED_THREADS = 4


def default_slots() -> int:
    """Parked waits per worker: gunicorn's threads (DOCKERLINK_THREADS, see gunicorn_conf)
    minus RESERVED_THREADS, at least 1."""
    return max(1, int(os.environ.get("DOCKERLINK_THREADS", "8")) - RESERVED_THREADS)


class Waiters:
    def __init__(
        self, last_seq: Callable[[], int], slots: int, *, poll: float = 0.2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._last_seq = last_seq
        self._slots = threading.BoundedSemaphore(max(1, slots))
        self._cond = threading.Condition()
        self._poll = poll
        self._clock = clock
        self._parked = 0
        self._latest = -1
        self._watcher: threading.Thread | None = None

    @property
    def parked(self) -> int:
        return self._parked

    def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Park until the journal's last seq is above `seq` or `timeout` passes; True when
        it moved. Raises Busy when no slot is free."""
        if not self._slots.acquire(blocking=False):
            raise Busy("too many parked waits in this worker; retry after 1 s", retry_after=1)
        try:
            deadline = self._clock() + timeout
            with self._cond:
                self._parked += 1
                self._ensure_watcher()
                try:
                    while self._latest <= seq:
                        left = deadline - self._clock()
                        if left <= 0:
                            return False
                        self._cond.wait(left)
                    return True
                finally:
                    self._parked -= 1
        finally:
            self._slots.release()

    def _ensure_watcher(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, name="dockerlink-events-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while True:
            try:
                latest = self._last_seq()
            except Exception:  # noqa: BLE001 - a locked or missing file: ask again next time
                latest = self._latest
            with self._cond:
                if latest != self._latest:
                    self._latest = latest
                    self._cond.notify_all()
                if self._parked == 0:
                    self._watcher = None
                    return
            time.sleep(self._poll)
