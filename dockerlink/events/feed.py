"""What `GET /v1/events` answers: the journal after a cursor, filtered, optionally waited for."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import InvalidInput
from .journal import Event, Journal
from .waiting import Waiters

__all__ = ["Feed", "Page", "MAX_WAIT", "MAX_LIMIT", "check_types"]

MAX_WAIT = 30.0
MAX_LIMIT = 1000
#: Seconds between two rechecks of a parked wait's caller (`Feed.read`'s `recheck`).
RECHECK_EVERY = 1.0
_TYPE = re.compile(r"[a-z][a-z_]{0,31}")


def check_types(values: Sequence[str]) -> list[str]:
    """Event types from repeated and/or comma-separated `type` parameters."""
    types = [t.strip() for v in values for t in v.split(",") if t.strip()]
    for t in types:
        if not _TYPE.fullmatch(t):
            raise InvalidInput("type", f"not an event type: {t[:40]!r}")
    return types


@dataclass(frozen=True)
class Page:
    events: list[Event]
    next: int  # the cursor to pass as `since` next time

    def to_json(self) -> dict:
        return {"events": [e.to_json() for e in self.events], "next": self.next}


class Feed:
    def __init__(
        self,
        journal: Journal,
        waiters: Waiters,
        clock: Callable[[], float] = time.monotonic,
        recheck_every: float = RECHECK_EVERY,
    ) -> None:
        self._journal = journal
        self._waiters = waiters
        self._clock = clock
        self._recheck_every = recheck_every

    def read(
        self,
        since: int,
        *,
        ref: str | None = None,
        types: Sequence[str] = (),
        limit: int = 100,
        wait: float = 0.0,
        recheck: Callable[[], object] | None = None,
    ) -> Page:
        """Events after `since`; with `wait`, parks until one matches or `wait` seconds pass.

        `recheck` runs before parking and every `recheck_every` seconds while parked; what
        it raises ends the wait (a scoped token revoked meanwhile: its wait must not outlive it)."""
        deadline = self._clock() + min(wait, MAX_WAIT)
        while True:
            latest = self._journal.last_seq()  # before the read: nothing at or below it is skipped
            events = self._journal.read(since, ref=ref, types=types, limit=limit)
            if len(events) == limit:
                return Page(events, events[-1].seq)
            cursor = max(since, latest, events[-1].seq if events else 0)
            left = deadline - self._clock()
            if events or left <= 0:
                return Page(events, cursor)
            if recheck is not None:
                recheck()
                left = min(left, self._recheck_every)
            if self._waiters.wait_beyond(cursor, left):
                since = cursor
            elif recheck is None:
                return Page([], cursor)
