"""Long-polls of `GET /v1/events?wait=`: parked requests that cost no CPU.

Each parked request sleeps on one shared `threading.Condition`; one watcher thread per
worker process, while anybody is parked, asks the journal for its last seq (one indexed
`MAX(seq)`, whatever the number of waiters) and wakes them all when it moved. It asks when
the journal's bell rings (`bell.py`: the collector rings after each commit that added
events, so a wait hears of an event within a few ms) and at the latest every `poll`
seconds, so a lost ring costs at most that. Nobody parked: no thread runs.

Each parked request holds one of gunicorn's gthread threads, so it takes one of the
worker's slots for long requests (`dockerlink.slots`, shared with git): past them the next
one is refused at once (`Busy`: 429 with `Retry-After`), and the other endpoints keep their
threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..errors import Busy
from ..slots import Slots
from .bell import Listener

__all__ = ["Busy", "Waiters"]


class Waiters:
    """`slots`: the worker's slots for long requests, or how many to make for these alone;
    `listen`: makes the watcher's listener for the journal's bell (None: the poll alone)."""

    def __init__(
        self,
        last_seq: Callable[[], int],
        slots: Slots | int,
        *,
        listen: Callable[[], Listener | None] | None = None,
        poll: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._last_seq = last_seq
        self._listen = listen
        self._slots = slots if isinstance(slots, Slots) else Slots(slots)
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
        with self._slots.hold("the wait"):
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

    def _ensure_watcher(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, name="dockerlink-events-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        # Listening starts before the first look at the journal: a ring in between is kept
        # in the listener's queue, never lost.
        listener = self._listen() if self._listen is not None else None
        try:
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
                if listener is None:
                    time.sleep(self._poll)
                else:
                    listener.wait(self._poll)
        finally:
            if listener is not None:
                listener.close()
