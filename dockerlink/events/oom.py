"""The cgroup OOM counter, a job of the background process: the kernel counts every process
its OOM killer took in a container's memory cgroup, also one that was not the container's
main process (the site's php-fpm under sshd as PID 1), which the engine never reports. The
job reads those counters (`dockerlink.cgroups`: where the file is and how it reads) and
journals an `oom` event (`source: cgroup`) for each rise the engine did not report.

Why a job of its own, and also a consumer of the follower: reading the counters is another
clock (every few seconds) and another way to fail (an inspect, `/proc` files) than the
engine's event stream. As a step inside the follower's window it waited for the window's
end and died with the stream; alone, it runs on its own schedule, has its own health line
(`oom` in `/v1/health`'s `jobs`) and exists only where cgroups can be read here. It hears
the engine's own `oom` events through the follower (`handle`, the one reader of the stream),
so a kill the engine did report is not journaled twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..cgroups import CgroupDirs, Locator, oom_file, oom_kills, read_file
from ..engine import ContainerDetails, ContainerSummary, EngineError, EngineEvent
from ..jobs import Wait, backoff
from ..ownership import LABEL
from .journal import OOM_COUNTER, Event, Journal, oom_counter

__all__ = ["OomWatch", "OomCount", "OomCounter", "RunningSites"]

log = logging.getLogger("dockerlink.events")


class Containers(Protocol):
    def list(self, all: bool = True, filters: dict[str, list[str]] | None = None) -> list[ContainerSummary]: ...

    def inspect(self, ref: str) -> ContainerDetails: ...


@dataclass(frozen=True)
class OomCount:
    container_id: str
    name: str
    started_at: int | None  # which life of the container the count belongs to
    count: int


class RunningSites:
    """Which dockerlink containers run, known from a listing and kept up to date by the
    engine's `start`, `die` and `destroy` events (the follower hands them over), so the
    counter does not list every container every few seconds (at 1000 sites, ~0.1 s of the
    engine's time each). Unknown (a listing is due) before the first listing, whenever the
    follower's stream broke or came back (events may have been missed), and `relist`
    seconds after the last listing, as a safety net."""

    def __init__(self, relist: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._relist = relist
        self._clock = clock
        self._lock = threading.Lock()
        self._ids: set[str] | None = None
        self._listed_at = 0.0
        self._following = False
        self._heard_while_listing: list[EngineEvent] | None = None
        self._started: set[str] = set()

    def heard(self, ev: EngineEvent) -> None:
        with self._lock:
            if self._heard_while_listing is not None:
                self._heard_while_listing.append(ev)
            if self._ids is not None:
                _apply(self._ids, ev)
            if ev.action == "start":
                self._started.add(ev.actor_id)

    def started(self) -> set[str]:
        """The ids started since the last call: a new life, whose cgroup is found again."""
        with self._lock:
            started, self._started = self._started, set()
            return started

    def following(self, yes: bool) -> None:
        with self._lock:
            if yes != self._following:
                self._following = yes
                self._ids = None

    def ids(self) -> set[str] | None:
        """The running ids, or None when a listing is due."""
        with self._lock:
            if self._ids is None or not self._following or self._clock() - self._listed_at >= self._relist:
                return None
            return set(self._ids)

    def listing(self, list_ids: Callable[[], set[str]]) -> set[str]:
        """List (outside the lock) and take the result, with the events heard meanwhile
        applied on top of it in order: a start the listing missed is added, a die it
        missed removes."""
        with self._lock:
            self._heard_while_listing = []
        try:
            ids = list_ids()
        except BaseException:
            with self._lock:
                self._heard_while_listing = None
            raise
        with self._lock:
            for ev in self._heard_while_listing or ():
                _apply(ids, ev)
            self._heard_while_listing = None
            self._ids, self._listed_at = set(ids), self._clock()
            return set(ids)

    def gone(self, container_id: str) -> None:
        """Its counter could not be read (stopped, or a new life): out until an event or
        the next listing says it runs."""
        with self._lock:
            if self._ids is not None:
                self._ids.discard(container_id)


def _apply(ids: set[str], ev: EngineEvent) -> None:
    if ev.action == "start":
        ids.add(ev.actor_id)
    elif ev.action in ("die", "destroy"):
        ids.discard(ev.actor_id)


class OomWatch:
    """Reads the OOM-kill counter of each running dockerlink container on this host."""

    def __init__(
        self,
        containers: Containers,
        *,
        root: str = "/",
        read: Callable[[str], bytes] = read_file,
        running: RunningSites | None = None,
    ) -> None:
        self._containers = containers
        self._locator = Locator(root, read)
        self._read = read
        self.running = running or RunningSites()
        self._dirs: dict[str, tuple[int | None, str, CgroupDirs]] = {}  # id -> (started_at, name, dirs)

    def counts(self) -> list[OomCount]:
        for cid in self.running.started():
            self._dirs.pop(cid, None)
        alive = self.running.ids()
        if alive is None:
            alive = self.running.listing(self._list)
        for cid in list(self._dirs):
            if cid not in alive:
                del self._dirs[cid]
        found = []
        for cid in sorted(alive):
            entry = self._dirs.get(cid) or self._locate(cid)
            if entry is None:
                self.running.gone(cid)  # not running (a start heard before its die), or gone
                continue
            started_at, name, dirs = entry
            try:
                count = oom_kills(self._read(oom_file(dirs)))
            except (OSError, ValueError):
                self._dirs.pop(cid, None)  # restarted (a new cgroup) or gone: locate again next time
                self.running.gone(cid)
                continue
            found.append(OomCount(cid, name, started_at, count))
        return found

    def _list(self) -> set[str]:
        return {c.id for c in self._containers.list(all=False, filters={"label": [LABEL]})}

    def _locate(self, container_id: str) -> tuple[int | None, str, CgroupDirs] | None:
        try:
            details = self._containers.inspect(container_id)
            if not details.pid:
                return None
            dirs = self._locator.locate(details.pid, container_id)
        except (EngineError, OSError):
            return None
        if dirs is None:
            return None
        entry = (details.started_at, details.name, dirs)
        self._dirs[container_id] = entry
        return entry


class OomCounter:
    """The job (`run`) and the follower's consumer (`handle`) in one: what the engine
    reported, by container, is what the next rise of the counter is matched against."""

    #: Engine actions it hears from the follower.
    actions = ("oom", "destroy", "start", "die")

    def __init__(
        self,
        counts: Callable[[], Sequence[OomCount]],
        journal: Journal,
        *,
        every: float = 10.0,
        clock: Callable[[], float] = time.time,
        running: RunningSites | None = None,
    ) -> None:
        self._counts = counts
        self._running = running
        self._journal = journal
        self._every = every
        self._clock = clock
        self._lock = threading.Lock()  # handle() runs in the follower's thread, check() in this job's
        self._reported: dict[str, int] = {}  # engine oom events not yet matched by a rise of the counter

    # -- the follower's consumer --

    def handle(self, ev: EngineEvent, replayed: bool) -> None:
        """An engine `oom` (journaled by the follower: not again here), or a `start`, `die`
        or `destroy` (which sites run)."""
        if self._running is not None and ev.action in ("start", "die", "destroy"):
            self._running.heard(ev)
        with self._lock:
            if ev.action == "destroy":
                self._reported.pop(ev.actor_id, None)
            elif ev.action == "oom" and not replayed:  # a replayed one was matched before the restart
                self._reported[ev.actor_id] = self._reported.get(ev.actor_id, 0) + 1

    def following(self, yes: bool) -> None:
        """An engine oom missed while the stream was down is at worst journaled once more,
        from the counter; which sites run is listed again (a start or die may be missed)."""
        if self._running is not None:
            self._running.following(yes)

    # -- the job --

    def check(self) -> list[Event]:
        """Read the counters once; the `oom` events journaled for the rises. The journal's
        counters are read in one query and only the changed ones written back, in one
        transaction: at 1000 idle sites, writing each one back every check was 1000
        transactions (~4 MB of WAL) every 10 s (docs/benchmarks.md)."""
        now = self._clock()
        made = []
        stored_counts = self._journal.counters(OOM_COUNTER)
        changed = []
        for c in self._counts():
            life = oom_counter(c.started_at)
            stored = stored_counts.get((c.container_id, life))
            previous = 0 if stored is None or c.count < stored else stored
            rise = c.count - previous
            with self._lock:
                reported = self._reported.pop(c.container_id, 0)
            if rise > reported:
                ev = self._journal.append(
                    now,
                    c.container_id,
                    c.name,
                    "oom",
                    {"source": "cgroup", "kills": rise - reported, "total": c.count},
                    key=f"cgroup-oom/{c.container_id}/{c.started_at}/{c.count}",
                )
                if ev is not None:
                    made.append(ev)
            if stored != c.count:
                changed.append((c.container_id, life, c.count))
        self._journal.set_counters(changed)
        return made

    def run(self, wait: Wait) -> None:
        """Check every `every` seconds until `wait` says stop; backs off while the engine
        is away or answers errors (a listing is asked each time), as the follower does. Any
        other failure (a bug) ends the job: the collector reports it dead and starts it again."""
        failures = 0
        while True:
            try:
                self.check()
                failures = 0
            except EngineError as exc:
                failures += 1
                if failures == 1:
                    log.warning("%s; reading the OOM counters again with back-off", exc)
            if wait(max(self._every, backoff(failures, 2.0, 60.0))):
                return
