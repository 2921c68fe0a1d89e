"""The engine's event stream, read by one follower in the collector and handed to its
consumers: the journal (`Translator`), the cgroup OOM counter (`oom.OomCounter`: the
engine's own oom events) and the stats rounds' listing (`stats.collector.ContainerChanges`:
when to list again). Each consumer says which actions it reads; the follower asks the
engine for all of them at once, for dockerlink's containers (label `dockerlink`). (Each
gunicorn worker's listing cache follows the stream on its own: `hosting/listing.py`, in
another process, where its entries are trusted only while its own stream is up.)

One engine event rarely says everything: a `die` does not say whether somebody asked for
it, a `start` does not say whether the restart policy did it. So `Translator` keeps, per
container, what came before:
- a `kill` or `stop` since the last `start` means somebody asked (dockerlink, or `docker
  stop` from outside): the `die` after it is `crash: false`; a `die` with nobody asking is
  a crash. A `stopped` event says who asked: `dockerlink` when a worker noted the request
  (journal `requests`), `other` otherwise.
- an `oom` since the last `start` makes the `die` `oom_killed`.
- a `start` whose inspect shows a higher `RestartCount` than the last one seen is a
  `restarted` (by the policy, with its count); any other is a `started`.

No loss, no double: the cursor (the last engine event's time, in ns) is stored in the same
transaction as the journal entry it led to; after a restart of the collector (or of
dockerd) the stream is read again from `REPLAY` seconds before it, which also rebuilds the
per-container state, and each engine event's key is written once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from ..engine import ContainerDetails, EngineError, EngineEvent, EngineUnavailable, NotFound
from ..jobs import backoff
from ..ownership import LABEL
from .journal import Event, Journal

__all__ = ["Translator", "Follower", "Consumer", "ACTIONS", "TYPES"]

log = logging.getLogger("dockerlink.events")

#: Engine container actions the translator reads (the journal's).
ACTIONS = ("create", "start", "kill", "stop", "die", "oom", "update", "destroy")
#: Journal event types (other capabilities add theirs).
TYPES = ("created", "started", "stopped", "died", "oom", "restarted", "resized", "deleted")
CURSOR = "engine.cursor"


class Consumer(Protocol):
    """What the follower hands the engine's events to."""

    #: The engine container actions it reads (the follower asks for the union).
    actions: Sequence[str]

    def handle(self, ev: EngineEvent, replayed: bool) -> object:
        """One event, in the engine's order; `replayed`: journaled before (read again after
        a restart of the collector or of dockerd)."""

    def following(self, yes: bool) -> None:
        """Whether the stream is followed from now on without a gap (False: it broke or the
        follower stopped; events may be missed until it says True again)."""


class EventStream(Protocol):
    def follow(
        self, since: float, until: float, filters: Mapping[str, Sequence[str]] | None = None
    ) -> Iterator[EngineEvent]: ...


class Inspector(Protocol):
    def inspect(self, ref: str) -> ContainerDetails: ...


class Translator:
    """Turns each engine event into at most one journal event (the follower's first consumer)."""

    actions = ACTIONS

    #: Seconds a request noted by a worker may precede the engine's `stop`.
    REQUEST_WINDOW = 600.0

    def __init__(self, journal: Journal, containers: Inspector) -> None:
        self._journal = journal
        self._containers = containers
        self._asked: set[str] = set()  # containers with a kill/stop since their last start
        self._oom: set[str] = set()  # containers with an engine oom since their last start

    def following(self, yes: bool) -> None:
        """Nothing to do: the cursor makes a new stream start where this one stopped."""

    def handle(self, ev: EngineEvent, replayed: bool | None = None) -> Event | None:
        """The journal event `ev` led to, if any (None also for one journaled before:
        `replayed`, asked of the journal when not given)."""
        if ev.type != "container" or not ev.actor_id:
            return None
        action = ev.action.split(":", 1)[0]
        cid = ev.actor_id
        seen = self._journal.seen(ev.key) if replayed is None else replayed
        # State first, journaled or not: a replay rebuilds it.
        if action == "start":
            self._asked.discard(cid)
            self._oom.discard(cid)
        elif action in ("kill", "stop"):
            self._asked.add(cid)
        elif action == "oom":
            self._oom.add(cid)
        cursor = {CURSOR: str(ev.time_nano)}
        if seen:
            self._journal.set_state(**cursor)
            return None
        made = self._translate(action, cid, ev)
        if made is None:
            self._journal.set_state(**cursor)
            return None
        type_, detail = made
        if action == "destroy":
            self._forget(cid)
        name = ev.attributes.get("name", "")
        return self._journal.append(ev.time, cid, name, type_, detail, key=ev.key, state=cursor)

    def _translate(self, action: str, cid: str, ev: EngineEvent) -> tuple[str, dict] | None:
        attrs = ev.attributes
        if action == "create":
            return "created", {"image": attrs.get("image", "")}
        if action == "start":
            count = self._restart_count(cid)
            previous = self._journal.counter(cid, "restarts") or 0
            if count is not None:
                self._journal.set_counter(cid, "restarts", count)
            if count is not None and count > previous:
                return "restarted", {"count": count}
            return "started", {}
        if action == "stop":
            by = self._journal.requested(cid, ev.time - self.REQUEST_WINDOW)
            return "stopped", {"by": "dockerlink" if by else "other"}
        if action == "die":
            try:
                code = int(attrs.get("exitCode", ""))
            except ValueError:
                code = None
            return "died", {"exit_code": code, "crash": cid not in self._asked, "oom_killed": cid in self._oom}
        if action == "oom":
            return "oom", {"source": "engine"}
        if action == "update":
            return "resized", self._limits(cid)
        if action == "destroy":
            return "deleted", {}
        return None  # kill: state only

    def _restart_count(self, cid: str) -> int | None:
        try:
            return self._containers.inspect(cid).restart_count
        except EngineError:
            return None

    def _limits(self, cid: str) -> dict[str, Any]:
        try:
            d = self._containers.inspect(cid)
        except (NotFound, EngineError):
            return {}
        return {"memory": d.memory, "cpu_quota": d.cpu_quota, "cpu_period": d.cpu_period, "pids_limit": d.pids_limit}

    def _forget(self, cid: str) -> None:
        self._asked.discard(cid)
        self._oom.discard(cid)
        self._journal.forget_counters(cid)


class Follower:
    """The one reader of the engine's event stream in the background process: reads it in
    windows of `window` seconds (a stream held open by the engine) and hands each event to
    every consumer that reads its action, the translator (the journal) first."""

    #: Seconds of the engine's log read again after a restart (the engine keeps its last
    #: ~1000 events in memory, and none from before its own restart).
    REPLAY = 300.0
    OVERLAP = 1.0

    def __init__(
        self,
        events: EventStream,
        translator: Translator,
        journal: Journal,
        *,
        consumers: Sequence[Consumer] = (),
        window: float = 10.0,
        keep_days: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._events = events
        self._journal = journal
        self._translator = translator
        self._consumers: list[Consumer] = [translator, *consumers]
        self._window = window
        self._keep = keep_days * 86400.0
        self._clock = clock
        self._since: float | None = None
        self._pruned_at = 0.0
        actions = sorted({a for c in self._consumers for a in c.actions})
        self.filters = {"type": ["container"], "label": [LABEL], "event": actions}

    def resume_point(self) -> float:
        cursor = self._journal.state(CURSOR)
        now = self._clock()
        if cursor is None:
            return now - self.REPLAY
        return max(int(cursor) / 1e9 - self.REPLAY, now - 7 * 86400)

    def window_once(self) -> int:
        """Read one window of events (raising EngineUnavailable when the stream breaks);
        returns how many journal events were written."""
        if self._since is None:
            self._since = self.resume_point()
        until = self._clock() + self._window
        written = 0
        try:
            self._tell_following(True)
            for ev in self._events.follow(self._since, until, self.filters):
                if ev.type != "container" or not ev.actor_id:
                    continue
                if self._dispatch(ev) is not None:
                    written += 1
        except BaseException:
            self._since = None  # read again from the cursor (dockerd may have restarted)
            self._tell_following(False)
            raise
        self._since = until - self.OVERLAP
        now = self._clock()
        if now - self._pruned_at > 3600:
            self._journal.prune(now - self._keep)
            self._pruned_at = now
        return written

    def _dispatch(self, ev: EngineEvent) -> Event | None:
        """Hand `ev` to each consumer that reads its action; the journal event it led to."""
        action = ev.action.split(":", 1)[0]
        replayed = self._journal.seen(ev.key)
        made = None
        for consumer in self._consumers:
            if action not in consumer.actions:
                continue
            if consumer is self._translator:
                made = self._translator.handle(ev, replayed)
            else:
                consumer.handle(ev, replayed)
        return made

    def _tell_following(self, yes: bool) -> None:
        for consumer in self._consumers:
            consumer.following(yes)

    def run(self, stopped: Callable[[float], bool]) -> None:
        """Until `stopped(seconds)` (a wait) says stop; backs off while the engine is away."""
        failures = 0
        try:
            while True:
                try:
                    self.window_once()
                    failures = 0
                    if stopped(0):
                        return
                except Exception as exc:  # noqa: BLE001 - the follower must outlive any one failure
                    failures += 1
                    if not isinstance(exc, EngineUnavailable):
                        log.exception("reading the engine's events failed")
                    elif failures == 1:
                        log.warning("%s; following events again with back-off", exc)
                    if stopped(backoff(failures, 2.0, 60.0)):
                        return
        finally:
            self._tell_following(False)
