"""Threads a worker lends to long requests (parked event waits, git commands).

Each such request holds one of gunicorn's gthread threads (`DOCKERLINK_THREADS`, 8 by
default) for as long as it lasts. A worker lends at most `size` of them at once, all long
requests together, so RESERVED_THREADS always stay for the other endpoints (the panel's
`/v1/env`, listings); a request past that is refused at once, never queued (`Busy`: 429
with `Retry-After`). A key (a site) may also have a smaller cap of its own, so that one
site cannot take every slot from the others.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

from .errors import Busy

__all__ = ["RESERVED_THREADS", "Slots", "default_size"]

#: gthread threads per worker kept for the other endpoints whatever long requests run.
RESERVED_THREADS = 4


def default_size() -> int:
    """Long requests per worker: gunicorn's threads (DOCKERLINK_THREADS, see gunicorn_conf)
    minus RESERVED_THREADS, at least 1."""
    return max(1, int(os.environ.get("DOCKERLINK_THREADS", "8")) - RESERVED_THREADS)


class Slots:
    """At most `size` holders at once; with a key, at most `per_key` holders of that key."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._lock = threading.Lock()
        self._used = 0
        self._by_key: Counter[Hashable] = Counter()

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def hold(self, what: str, key: Hashable | None = None, per_key: int = 0) -> Iterator[None]:
        """One slot for the block; Busy at once when none is free (for `key`, when it
        already holds `per_key`). `what` names the request in the refusal."""
        with self._lock:
            if key is not None and per_key and self._by_key[key] >= per_key:
                raise Busy(f"{what}: {per_key} already running for it in this worker; retry after 1 s")
            if self._used >= self.size:
                raise Busy(f"too many long requests in this worker ({self.size}); retry {what} after 1 s")
            self._used += 1
            if key is not None:
                self._by_key[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._used -= 1
                if key is not None:
                    self._by_key[key] -= 1
                    if self._by_key[key] <= 0:
                        del self._by_key[key]
