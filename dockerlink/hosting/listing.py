"""The full listing in one engine call: container details cached per worker, kept true by
the engine's events.

`GET /v1/container` lists every container (one `/containers/json`) and describes each from
its inspect. The inspects are what cost (one round trip each, 200 on a busy host), and
what they show changes only when something happens to the container: so each worker keeps
the details it inspected, and a thread follows the engine's event stream and drops a
container's entry on any event that changes it (start, die, rename, update, destroy, …),
including changes made behind dockerlink's back (`docker restart`, `docker rename`).

What keeps it true:
- an entry is used only while the stream is being followed; when it breaks (the engine
  restarted, say) the cache is emptied and every listing inspects until it is followed
  again, from a `since` before the emptying, so no event falls between the two;
- an entry whose state or name differs from the listing's is inspected again;
- an inspect that ran while an event about that container arrived is not kept (it may
  predate the change); the others of the same batch are (on a busy engine some event
  arrives during nearly every batch of 1000 inspects: dropping the whole batch for it
  left the cache empty at scale);
- an entry older than `ttl` is inspected again, whatever happened (a safety net for an
  event lost on a connection that died silently, or a remote engine's clock).
Single-id gets never use it: they inspect, exactly.

The same stream feeds the worker's book of port areas (`areas.AreaBook`), which also reads
volume `create` events: the barrier a create waits for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from ..engine import ContainerDetails, ContainerSummary, EngineError, EngineEvent
from .areas import AreaBook

__all__ = ["DetailsCache", "CHANGES", "TTL"]

log = logging.getLogger("dockerlink.hosting.listing")

#: Container events after which its details may differ (exec_*, top, attach… do not count).
CHANGES = (
    "create",
    "start",
    "restart",
    "die",
    "kill",
    "stop",
    "oom",
    "pause",
    "unpause",
    "rename",
    "update",
    "destroy",
)
#: Network events that change a container's details (its `networks`): the actor is the
#: network, the container is in the attributes.
NETWORK_CHANGES = ("connect", "disconnect")
#: Seconds an entry is trusted at most, events or not.
TTL = 30.0
#: Containers whose last event is remembered (for the inspects in flight) before the
#: memory is dropped whole, and with it the batches then in flight.
MAX_CHANGED = 10_000
#: Seconds the event stream's `since` reaches back before the cache was emptied.
OVERLAP = 2.0


class EventStream(Protocol):
    def follow(
        self, since: float, until: float | None = None, filters: Mapping[str, Sequence[str]] | None = None
    ) -> Iterator[EngineEvent]: ...


class DetailsCache:
    """Container id → details, trusted only while the engine's events are followed."""

    def __init__(
        self,
        events: EventStream,
        *,
        ttl: float = TTL,
        retry: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._events = events
        self._ttl = ttl
        self._retry = retry
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[ContainerDetails, float]] = {}
        self._seq = 0  # events seen; an inspect that overlapped one about its container is not kept
        self._changed: dict[str, int] = {}  # container id -> `_seq` at its last event
        self._reset_seq = 0  # `_seq` when the cache was last emptied: nothing inspected before is kept
        self._following = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.areas = AreaBook()  # fed by the same stream

    # -- the listing's side ------------------------------------------------------------------

    def start(self) -> None:
        """Follow the events from a thread of this process (called at the first listing, so
        in the gunicorn worker, never in the master before the fork)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._follow_forever, name="dockerlink-events", daemon=True)
                self._thread.start()

    def mark(self) -> int:
        """Call before inspecting; pass the result to `put`."""
        with self._lock:
            return self._seq

    def get(self, summary: ContainerSummary) -> ContainerDetails | None:
        """The cached details of a listed container, if they can be trusted."""
        with self._lock:
            hit = self._entries.get(summary.id) if self._following else None
        if hit is None:
            return None
        details, at = hit
        if self._clock() - at >= self._ttl or details.state != summary.state or details.name != summary.name:
            return None
        return details

    def put(self, details: Iterable[ContainerDetails], mark: int) -> None:
        """Keep freshly inspected details, but those of a container an event arrived about
        since `mark` (and all of them if the cache was emptied since)."""
        now = self._clock()
        with self._lock:
            if self._following and self._reset_seq <= mark:
                changed = self._changed
                self._entries.update((d.id, (d, now)) for d in details if changed.get(d.id, 0) <= mark)

    def retain(self, ids: Iterable[str]) -> None:
        """Forget containers no longer listed."""
        keep = set(ids)
        with self._lock:
            for gone in self._entries.keys() - keep:
                del self._entries[gone]

    def close(self) -> None:
        self._stop.set()

    # -- the follower's side -------------------------------------------------------------------

    def changed(self, event: EngineEvent) -> None:
        self.areas.changed(event)
        if event.type == "volume":  # the area book's barrier; no container's details change
            return
        container = event.attributes.get("container", "") if event.type == "network" else event.actor_id
        with self._lock:
            self._seq += 1
            if len(self._changed) >= MAX_CHANGED:  # forgetting which changed is safe: no batch in flight is kept
                self._changed.clear()
                self._reset_seq = self._seq
            self._changed[container] = self._seq
            self._entries.pop(container, None)

    def _reset(self, following: bool) -> None:
        with self._lock:
            self._seq += 1
            self._reset_seq = self._seq
            self._entries.clear()
            self._changed.clear()
            self._following = following
        self.areas.reset(following)

    def follow_once(self) -> None:
        """Empty the cache, then follow the stream (from before the emptying) until it
        breaks; returns (or raises EngineError) with the cache emptied and unused."""
        since = self._wall() - OVERLAP
        self._reset(following=True)
        try:
            filters = {"type": ["container", "network", "volume"], "event": [*CHANGES, *NETWORK_CHANGES]}
            for event in self._events.follow(since, filters=filters):
                self.changed(event)
                if self._stop.is_set():
                    return
        finally:
            self._reset(following=False)

    def _follow_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.follow_once()
            except EngineError as exc:
                log.debug("engine events not followed (%s); listing without the cache", exc)
            except Exception:  # a bug must not end the thread: the cache would stay off silently
                log.exception("following engine events failed")
            self._stop.wait(self._retry)
