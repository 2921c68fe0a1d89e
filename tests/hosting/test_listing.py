"""The full listing: one engine call when nothing changed, the truth as soon as something did."""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading

import pytest

from dockerlink.config import Config
from dockerlink.engine import ContainerSummary, EngineEvent, EngineUnavailable
from dockerlink.hosting import Hosting
from dockerlink.hosting import listing as listing_module
from dockerlink.hosting.listing import DetailsCache
from tests.fakes import FakeEngine, FakeStore
from tests.waiting import until


class Counting:
    """Counts the fake engine's list and inspect calls."""

    def __init__(self, engine: FakeEngine) -> None:
        self.lists = self.inspects = 0
        list_, inspect = engine.containers.list, engine.containers.inspect

        def counted_list(*a, **kw):
            self.lists += 1
            return list_(*a, **kw)

        def counted_inspect(ref):
            self.inspects += 1
            return inspect(ref)

        engine.containers.list = counted_list
        engine.containers.inspect = counted_inspect

    def reset(self) -> tuple[int, int]:
        calls = (self.lists, self.inspects)
        self.lists = self.inspects = 0
        return calls


class Events(queue.Queue):
    """The fake engine's event stream, counting the events put on it."""

    def __init__(self) -> None:
        super().__init__()
        self.put_count = 0

    def put(self, item, block=True, timeout=None) -> None:  # noqa: ANN001
        if item is not None:
            self.put_count += 1
        super().put(item, block, timeout)


class Watched(DetailsCache):
    """The cache, counting the events its follower has applied (its own `changed` seam)."""

    applied = 0

    def changed(self, event: EngineEvent) -> None:
        super().changed(event)
        self.applied += 1


def settled(cache: Watched, engine: FakeEngine) -> None:
    """Wait until the follower follows and has applied every event put on the stream."""
    cache.start()
    until(
        lambda: cache._following and cache.applied == engine.system.stream.put_count,
        "the follower follows and has applied every event put on the stream",
    )


@pytest.fixture
def engine() -> FakeEngine:
    e = FakeEngine()
    e.system.stream = Events()
    return e


@pytest.fixture
def hosting(engine, tmp_path):
    cache = Watched(engine.system, retry=0.01)
    h = Hosting(engine, Config(create_lock=str(tmp_path / "lock")), FakeStore(), cache=cache)
    yield h, cache
    cache.close()
    if engine.system.stream is not None:
        engine.system.stream.put(None)


def listing(h: Hosting) -> dict:
    return h.describe_many([])["success"]


def test_a_listing_with_nothing_changed_costs_one_list_call(engine, hosting):
    h, cache = hosting
    sites = [engine.containers.add(f"site{i}", labels={"dockerlink": "1"}) for i in range(5)]
    counter = Counting(engine)
    first = listing(h)
    settled(cache, engine)
    assert counter.reset() == (1, 5)
    first = listing(h)  # the first may have run before the stream was followed
    counter.reset()
    assert listing(h) == first and counter.reset() == (1, 0)
    assert set(first) == {s.id for s in sites}


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (lambda e, c: e.containers.restart(c.id), "started_at", 1_700_000_100),
        (lambda e, c: e.containers.rename(c.id, "renamed"), "name", "/renamed"),
        (lambda e, c: e.containers.stop(c.id), "state", "exited"),
    ],
)
def test_a_change_behind_dockerlinks_back_shows_in_the_next_listing(engine, hosting, change, field, expected):
    h, cache = hosting
    c = engine.containers.add("site", labels={"dockerlink": "1"})
    settled(cache, engine)
    listing(h)
    counter = Counting(engine)
    change(engine, c)  # emits the engine's event, as `docker restart` / `docker rename` do
    settled(cache, engine)
    assert listing(h)[c.id][field] == expected
    assert counter.reset() == (1, 1)


def test_without_the_event_stream_every_listing_inspects(engine, tmp_path):
    engine.system.stream = None  # the engine went away: its events cannot be followed
    tries: list[float] = []
    follow = engine.system.follow

    def tried(since, *a, **kw):  # noqa: ANN001, ANN202
        tries.append(since)
        return follow(since, *a, **kw)

    engine.system.follow = tried
    cache = DetailsCache(engine.system, retry=3600.0)  # one try, then no other during the test
    h = Hosting(engine, Config(create_lock=str(tmp_path / "lock")), FakeStore(), cache=cache)
    c = engine.containers.add("site", labels={"dockerlink": "1"})
    try:
        cache.start()
        until(lambda: tries and not cache._following, "the follower tried the stream and gave up")
        counter = Counting(engine)
        listing(h)
        engine.containers.by_id[c.id] = type(c)(**{**c.__dict__, "started_at": 1})  # no event
        assert listing(h)[c.id]["started_at"] == 1
        assert counter.reset() == (2, 2)
    finally:
        cache.close()


def test_single_id_gets_always_inspect(engine, hosting):
    h, cache = hosting
    c = engine.containers.add("site", labels={"dockerlink": "1"})
    settled(cache, engine)
    listing(h)
    counter = Counting(engine)
    assert h.describe_many([c.id])["success"][c.id]["name"] == "/site"
    assert counter.reset() == (0, 1)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Stream:
    """A controllable event stream for the cache alone."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()
        self.since: list[float] = []

    def follow(self, since, filters=None):
        self.since.append(since)
        while (e := self.q.get()) is not None:
            if isinstance(e, Exception):
                raise e
            yield e


def details(engine: FakeEngine, name: str = "site"):
    c = engine.containers.add(name)
    return c, ContainerSummary(c.id, c.name, c.image, c.state, c.labels)


def following(cache: DetailsCache, stream: Stream) -> threading.Thread:
    def follow() -> None:
        with contextlib.suppress(EngineUnavailable):
            cache.follow_once()

    entered = len(stream.since)
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    until(
        lambda: len(stream.since) > entered and cache._following,
        "the cache follows the stream (its follow entered)",
    )
    return t


def test_entries_expire_after_the_ttl_whatever_happened():
    clock, stream = Clock(), Stream()
    cache = DetailsCache(stream, ttl=30, clock=clock)
    c, summary = details(FakeEngine())
    t = following(cache, stream)
    cache.put([c], cache.mark())
    assert cache.get(summary) == c
    clock.now = 29.9
    assert cache.get(summary) == c
    clock.now = 30
    assert cache.get(summary) is None
    stream.q.put(None)
    t.join(5)


def test_an_inspect_that_overlapped_an_event_is_not_kept():
    stream = Stream()
    cache = DetailsCache(stream)
    c, summary = details(FakeEngine())
    t = following(cache, stream)
    mark = cache.mark()
    stream.q.put(EngineEvent("container", "restart", c.id, 0.0, {}))
    until(lambda: cache.mark() != mark, "the follower applied the restart event")
    cache.put([c], mark)  # inspected before the restart, answered after it
    assert cache.get(summary) is None
    stream.q.put(None)
    t.join(5)


def test_a_listed_state_or_name_unlike_the_cached_one_is_not_trusted():
    stream = Stream()
    cache = DetailsCache(stream)
    c, summary = details(FakeEngine())
    t = following(cache, stream)
    cache.put([c], cache.mark())
    assert cache.get(summary) == c
    assert cache.get(dataclasses.replace(summary, state="exited")) is None
    assert cache.get(dataclasses.replace(summary, name="other")) is None
    stream.q.put(None)
    t.join(5)


def test_a_broken_stream_empties_the_cache_and_the_next_one_starts_before_the_emptying():
    stream = Stream()
    wall = Clock()
    wall.now = 1000.0
    cache = DetailsCache(stream, wall=wall)
    c, summary = details(FakeEngine())
    t = following(cache, stream)
    cache.put([c], cache.mark())
    stream.q.put(EngineUnavailable("the Docker engine at /x is unreachable"))
    t.join(5)
    assert cache.get(summary) is None
    cache.put([c], cache.mark())  # not following: nothing is kept
    assert cache.get(summary) is None
    t = following(cache, stream)
    assert stream.since == [998.0, 998.0]  # reaches back before the cache was emptied
    stream.q.put(None)
    t.join(5)


def test_an_event_about_one_container_keeps_the_rest_of_the_batch():
    stream = Stream()
    cache = DetailsCache(stream)
    engine = FakeEngine()
    (a, sa), (b, sb) = details(engine), details(engine)
    t = following(cache, stream)
    mark = cache.mark()
    stream.q.put(EngineEvent("container", "update", a.id, 0.0, {}))
    until(lambda: cache.mark() != mark, "the follower applied the update event")
    cache.put([a, b], mark)  # both inspected before a's update, answered after it
    assert cache.get(sa) is None
    assert cache.get(sb) == b
    stream.q.put(None)
    t.join(5)


def test_when_the_memory_of_changes_is_full_no_batch_in_flight_is_kept(monkeypatch):
    monkeypatch.setattr(listing_module, "MAX_CHANGED", 2)
    stream = Stream()
    cache = DetailsCache(stream)
    c, summary = details(FakeEngine())
    t = following(cache, stream)
    mark = cache.mark()
    for other in ("x" * 64, "y" * 64, "z" * 64):  # other containers: the third overflows the memory
        stream.q.put(EngineEvent("container", "destroy", other, 0.0, {}))
    until(lambda: cache.mark() == mark + 3, "the follower applied the three events")
    cache.put([c], mark)
    assert cache.get(summary) is None
    cache.put([c], cache.mark())
    assert cache.get(summary) == c
    stream.q.put(None)
    t.join(5)
