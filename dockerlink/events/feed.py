"""What `GET /v1/events` answers: the journal after a cursor, filtered, optionally waited for.

Whose events: a container's, by its full id. A name is reused by the next container given
it, so `container_of` turns a name or id prefix into the full id of the container that has
it *now* (a name or prefix of none is a 404); only a full id names a deleted container.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..engine import ContainerDetails, NotFound
from ..errors import InvalidInput, NoSuchContainer
from .journal import Event, Journal
from .waiting import Waiters

__all__ = ["Feed", "Page", "MAX_WAIT", "MAX_LIMIT", "check_types", "container_of"]

MAX_WAIT = 30.0
MAX_LIMIT = 1000
#: Seconds between two rechecks of a parked wait's caller (`Feed.read`'s `recheck`).
RECHECK_EVERY = 1.0
_TYPE = re.compile(r"[a-z][a-z_]{0,31}")
_FULL_ID = re.compile(r"[0-9a-f]{64}")


def check_types(values: Sequence[str]) -> list[str]:
    """Event types from repeated and/or comma-separated `type` parameters."""
    types = [t.strip() for v in values for t in v.split(",") if t.strip()]
    for t in types:
        if not _TYPE.fullmatch(t):
            raise InvalidInput("type", f"not an event type: {t[:40]!r}")
    return types


def container_of(ref: str, inspect: Callable[[str], ContainerDetails]) -> str:
    """The full id whose events `ref` asks for: a full id as given (also a deleted
    container's; the engine is not asked), else the id of the container the engine finds
    under that name or prefix now; NoSuchContainer (404) when there is none."""
    if _FULL_ID.fullmatch(ref):
        return ref
    try:
        return inspect(ref).id
    except NotFound:
        raise NoSuchContainer(f"no such container: {ref} (a deleted container's events: by its full id)") from None


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
        container: str | None = None,
        types: Sequence[str] = (),
        limit: int = 100,
        wait: float = 0.0,
        recheck: Callable[[], object] | None = None,
    ) -> Page:
        """Events after `since` (of `container`, a full id, when given); with `wait`, parks
        until one matches or `wait` seconds pass.

        `recheck` runs before parking and every `recheck_every` seconds while parked; what
        it raises ends the wait (a scoped token revoked meanwhile: its wait must not outlive it)."""
        deadline = self._clock() + min(wait, MAX_WAIT)
        while True:
            latest = self._journal.last_seq()  # before the read: nothing at or below it is skipped
            events = self._journal.read(since, container=container, types=types, limit=limit)
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
