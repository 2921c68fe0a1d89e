"""The port areas of dockerlink's containers, kept by the engine's events: a create's area
check without listing every container.

Listing every dockerlink container under the create lock cost a create 113 ms with 1000
sites (the engine answers with all of them). Each worker already follows the engine's
events (`listing.DetailsCache`); this book, fed by the same stream, keeps each dockerlink
container's root: added at its `create` (the event carries its labels), gone at its
`destroy`. It is seeded once per stream life from one full list.

Why it is as exact as the list: under the create lock, the creator first creates the
site's volume, which makes the engine emit a volume `create` event, then waits until its
own stream has delivered that event (`vouches`). The engine delivers its events in order,
so every container created or removed before that volume create (by another worker a
millisecond earlier, or outside dockerlink) has reached the book by then, as it would have
reached a list made at that moment. The book does not vouch (the caller lists) when the
stream is not followed, the book is not seeded, or the event did not come in time (a
stream that died silently): and then it vouches no more until the stream starts again.
A conflict it finds is confirmed by the list all the same.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

from ..engine import EngineEvent
from ..ownership import LABEL
from .panel import port_root
from .ports import overlaps

__all__ = ["AreaBook", "BARRIER_WAIT"]

#: Seconds a creator waits for its own volume's event before listing instead.
BARRIER_WAIT = 2.0
#: Containers whose last event is remembered for a seeding in flight; past it, reseed.
MAX_CHANGED = 10_000


class Listed(Protocol):
    """A container of the engine's list (`ContainerSummary`)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> dict[str, str]: ...


class AreaBook:
    """Container id → (name, root) of dockerlink's containers, true while the events are followed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._roots: dict[str, tuple[str, int]] = {}
        self._seq = 0  # events seen in this stream life
        self._changed: dict[str, int] = {}  # container id -> `_seq` at its last event
        self._reset_seq = 0  # `_seq` when the book was last emptied: a list made before is refused
        self._volumes: dict[str, int] = {}  # volume name -> `_seq` at its last `create` event
        self._following = False
        self._seeded = False
        self._stale = False  # a barrier event did not come: listed until the stream restarts

    # -- the follower's side (`DetailsCache` hands over every event) -------------------------

    def changed(self, event: EngineEvent) -> None:
        with self._cond:
            self._seq += 1
            if event.type == "volume":
                if event.action == "create":
                    self._volumes[event.actor_id] = self._seq
                    if len(self._volumes) > MAX_CHANGED:
                        self._volumes.clear()
            elif event.type == "container" and event.action in ("create", "destroy"):
                self._note(event)
            self._cond.notify_all()

    def _note(self, event: EngineEvent) -> None:
        if len(self._changed) >= MAX_CHANGED:  # a seeding in flight can no longer tell: seed again
            self._changed.clear()
            self._reset_seq, self._seeded = self._seq, False
        self._changed[event.actor_id] = self._seq
        root = port_root(event.attributes) if LABEL in event.attributes else None
        if event.action == "create" and root is not None:
            self._roots[event.actor_id] = (event.attributes.get("name", event.actor_id[:12]), root)
        else:
            self._roots.pop(event.actor_id, None)

    def reset(self, following: bool) -> None:
        """The stream starts (True) or broke (False): nothing known is kept."""
        with self._cond:
            self._seq += 1
            self._reset_seq = self._seq
            self._roots.clear()
            self._changed.clear()
            self._volumes.clear()
            self._following, self._seeded, self._stale = following, False, False
            self._cond.notify_all()

    # -- the creator's side (under the create lock) -------------------------------------------

    def mark(self) -> int:
        """Call before listing, or before creating the volume; pass the result on."""
        with self._cond:
            return self._seq

    def seed(self, listed: Iterable[Listed], mark: int) -> None:
        """Take a full list of dockerlink containers made after `mark`; what an event told
        since (newer than the list) is kept as the event told it."""
        with self._cond:
            if not self._following or self._reset_seq > mark:  # the list may be older than what was dropped
                return
            fresh = {c.id: c for c in listed}
            for cid in [c for c in self._roots if c not in fresh and self._changed.get(c, 0) <= mark]:
                del self._roots[cid]
            for cid, c in fresh.items():
                if self._changed.get(cid, 0) > mark:
                    continue
                root = port_root(c.labels)
                if root is not None:
                    self._roots[cid] = (c.name, root)
            self._seeded = True  # a stale book stays stale: its stream may be dead
            self._changed.clear()  # only a seeding in flight needs it; the next takes its own mark

    def vouches(self, volume: str, mark: int, wait: float | None = None) -> bool:
        """Whether the book is as true as a list made now: seeded, and its stream has
        delivered the `create` of `volume` that the caller asked for after `mark`."""
        with self._cond:
            came = lambda: not self._usable() or self._volumes.get(volume, 0) > mark  # noqa: E731
            ok = self._cond.wait_for(came, BARRIER_WAIT if wait is None else wait)
            if self._usable() and not ok:
                self._stale = True
            if not (self._usable() and self._volumes.get(volume, 0) > mark):
                return False
            del self._volumes[volume]  # one creator waits for it (under the create lock)
            return True

    def _usable(self) -> bool:
        return self._following and self._seeded and not self._stale

    def overlapping(self, root: int, size: int) -> tuple[str, int] | None:
        """The (name, root) of a container whose area overlaps [root, root + size - 1]."""
        with self._cond:
            return next(((n, r) for n, r in self._roots.values() if overlaps(root, r, size)), None)
