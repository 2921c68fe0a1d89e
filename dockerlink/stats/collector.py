"""One round of collection: list, sample, derive, store. No thread and no sleep here:
`collect_once()` is driven by the runner's schedule in production and by tests directly."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..engine import ContainerSummary, EngineEvent, EngineInfo
from ..ownership import LABEL
from .samples import Reading, derive
from .store import StatsStore

__all__ = ["Collector", "Listing", "ContainerChanges", "RoundReport", "CHANGES"]

#: Container events after which the list of containers to sample is fetched again.
CHANGES = ("create", "start", "die", "destroy", "pause", "unpause")
#: The container event after which its limits are read again (`docker update`).
UPDATE = "update"


class ContainerLister(Protocol):
    def list(self, all: bool = True, filters: dict[str, list[str]] | None = None) -> list[ContainerSummary]: ...


class ContainerChanges:
    """What the listing and the cgroup source learn from the collector's event follower (a
    consumer of `events.follower.Follower`, the one reader of the engine's events): which
    containers changed (created, started, stopped, paused, removed) and when, when each was
    last updated (its limits), and since when the stream has been followed without a gap.
    Thread-safe: the follower's thread writes, the rounds' thread reads."""

    #: The engine actions it reads.
    actions = (*CHANGES, UPDATE)
    #: Containers remembered (id -> when) before the oldest are dropped: what is older than
    #: the listing's `refresh` and the cgroup source's `limits_every` no longer matters.
    KEEP = 4096
    FORGET_AFTER = 3600.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._latest = -math.inf  # the engine time of the latest change seen
        self._since: float | None = None  # followed without a gap since then (None: not followed)
        self._changed: dict[str, float] = {}  # container id -> the engine time of its latest change
        self._updated: dict[str, float] = {}  # container id -> the engine time of its latest update
        self.heard = 0  # change events handled so far (a late one counts when it arrives)

    def handle(self, ev: EngineEvent, replayed: bool) -> None:
        with self._lock:
            if ev.action == UPDATE:
                self._updated = self._noted(self._updated, ev)
            else:
                self._latest = max(self._latest, ev.time)
                self._changed = self._noted(self._changed, ev)
                self.heard += 1

    def _noted(self, seen: dict[str, float], ev: EngineEvent) -> dict[str, float]:
        seen[ev.actor_id] = max(seen.get(ev.actor_id, -math.inf), ev.time)
        if len(seen) <= self.KEEP:
            return seen
        old = ev.time - self.FORGET_AFTER
        return {cid: at for cid, at in seen.items() if at >= old}

    def following(self, yes: bool) -> None:
        with self._lock:
            if not yes:
                self._since = None
            elif self._since is None:
                self._since = self._clock()

    def unchanged_since(self, at: float) -> bool:
        """Whether no container changed at or after `at`, as far as can be known: False
        unless the stream was followed all along since before `at`."""
        with self._lock:
            return self._since is not None and self._since <= at and self._latest < at

    def changed_since(self, at: float) -> list[str] | None:
        """The containers that changed at or after `at`; None when that cannot be known
        (the stream was not followed all along since before `at`)."""
        with self._lock:
            if self._since is None or self._since > at:
                return None
            if self._latest < at:
                return []
            return [cid for cid, when in self._changed.items() if when >= at]

    def limits_unchanged_since(self, container_id: str, at: float) -> bool:
        """Whether the container's limits did not change at or after `at`, as far as can be
        known: False unless the stream was followed all along since before `at`."""
        with self._lock:
            followed = self._since is not None and self._since <= at
            return followed and self._updated.get(container_id, -math.inf) < at


class HostInfo(Protocol):
    def info(self) -> EngineInfo: ...


class ReadingSource(Protocol):
    def sample(self, containers: Sequence[ContainerSummary]) -> list[Reading]: ...

    def prepare(self) -> None: ...


class Listing:
    """The containers to sample: dockerlink's (label `dockerlink`), running or not.

    Listing costs the engine a JSON entry per container and the collector ~20 µs to parse
    each, as much as reading the container's cgroup files (at N = 1000 on a busy 2-core
    host, a whole list took the engine over a second, a list of a few ids 80 ms). So with
    `changes` (what the collector's event follower saw) the whole list is kept, and only
    the containers that changed since it was fetched (created, started, stopped, paused,
    removed) are asked for again, by id, and patched into it; the whole list is fetched
    again when more than `patch_limit` changed, when the stream was not followed all along
    since, and at least every `refresh` seconds whatever happened. Without it, every round
    lists.
    """

    def __init__(
        self,
        containers: ContainerLister,
        changes: ContainerChanges | None = None,
        *,
        clock: Callable[[], float] = time.time,
        refresh: float = 60.0,
        patch_limit: int = 100,
    ) -> None:
        self._containers = containers
        self._changes = changes
        self._clock = clock
        self._refresh = refresh
        self._patch_limit = patch_limit
        self._whole: list[ContainerSummary] | None = None  # the last whole list
        self._cached: list[ContainerSummary] | None = None  # it, patched
        self._heard = 0  # `changes.heard` when the list was last fetched or patched
        self._listed_at = 0.0
        self.lists = 0  # how many times the engine was asked for the whole list
        self.patches = 0  # how many times for the changed containers only

    def current(self) -> list[ContainerSummary]:
        now = self._clock()
        if self._cached is not None and self._changes is not None and now - self._listed_at < self._refresh:
            # Every container changed since the whole list (not only since the last patch):
            # an event that arrives late still has a time after the whole list's.
            heard = self._changes.heard
            changed = self._changes.changed_since(self._listed_at)
            if changed is not None and len(changed) <= self._patch_limit:
                if heard != self._heard:  # a change event arrived since the list was made
                    self._patch(changed)
                    self._heard = heard
                return self._cached
        self._heard = self._changes.heard if self._changes is not None else 0
        self._cached = self._whole = self._containers.list(all=True, filters={"label": [LABEL]})
        self._listed_at = now
        self.lists += 1
        return self._cached

    def _patch(self, changed: list[str]) -> None:
        """The whole list with the `changed` containers as the engine has them now (a
        removed one is left out)."""
        fresh = self._containers.list(all=True, filters={"label": [LABEL], "id": changed})
        ids = set(changed)
        assert self._whole is not None
        self._cached = [c for c in self._whole if c.id not in ids] + [c for c in fresh if c.id in ids]
        self.patches += 1

    def invalidate(self) -> None:
        """List afresh next time (after an error: the engine may have restarted, its
        event log with it)."""
        self._cached = None


@dataclass(frozen=True)
class RoundReport:
    ts: float
    listed: int  # containers to sample
    sampled: int  # samples written (the rest vanished mid-round)
    running: int


class Collector:
    """Samples every container dockerlink created (label `dockerlink`) into `store`.

    Only dockerlink's containers are sampled: they are the ones the panel plans and bills;
    a database or the panel itself on the same host is not the panel's to chart. The
    history endpoint still answers for any container that has history.
    """

    def __init__(
        self,
        containers: ContainerLister,
        sampler: ReadingSource,
        store: StatsStore,
        clock: Callable[[], float] = time.time,
        *,
        changes: ContainerChanges | None = None,
        host: HostInfo | None = None,
    ) -> None:
        self.listing = Listing(containers, changes)
        self._host = host
        self._host_cpus = 0  # asked once; the store keeps it for the readers' CPU ceiling
        self._sampler = sampler
        self._store = store
        self._clock = clock
        self._previous: dict[str, Reading] | None = None

    def prepare(self) -> None:
        """Called shortly before a round (see `EngineSource.prepare`)."""
        self._sampler.prepare()

    def collect_once(self, ts: float | None = None) -> RoundReport:
        """Sample once and store it under `ts` (default: now). Raises EngineUnavailable
        when the engine does not answer; nothing is written then."""
        started = self._clock()
        ts = started if ts is None else ts
        if self._previous is None:
            self._previous = self._store.previous_readings()  # survives a restart of the service
        try:
            listed = self.listing.current()
            readings = self._sampler.sample(listed)
            if self._host is not None and not self._host_cpus:
                self._host_cpus = self._host.info().cpus
        except Exception:
            self.listing.invalidate()
            raise
        previous = self._previous
        entries = [(r, derive(previous.get(r.container_id), r, ts)) for r in readings]
        self._store.record_round(ts, entries, host_cpus=self._host_cpus)
        self._store.maintain(ts)
        self._store.note("round_seconds", max(0.0, self._clock() - started))  # for /metrics
        seen = {c.id for c in listed}
        self._previous = {cid: r for cid, r in previous.items() if cid in seen}
        self._previous.update((r.container_id, r) for r in readings)
        return RoundReport(ts, len(listed), len(entries), sum(r.running for r in readings))
