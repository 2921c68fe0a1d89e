"""The full listing: one engine call when nothing changed, the truth as soon as something did."""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time

import pytest

from dockerlink.config import Config
from dockerlink.engine import ContainerSummary, EngineEvent, EngineUnavailable
from dockerlink.hosting import Hosting
from dockerlink.hosting.listing import DetailsCache
from tests.fakes import FakeEngine, FakeStore


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


def settled(cache: DetailsCache, engine: FakeEngine, seconds: float = 5.0) -> None:
    """Wait (bounded) until the follower follows and has taken every queued event."""
    cache.start()
    end = time.monotonic() + seconds
    while (not engine.system.stream.empty() or not cache._following) and time.monotonic() < end:
        time.sleep(0.005)
    time.sleep(0.02)  # the event taken off the queue is applied under the cache's lock


@pytest.fixture
def engine() -> FakeEngine:
    e = FakeEngine()
    e.system.stream = queue.Queue()
    return e


@pytest.fixture
def hosting(engine, tmp_path):
    cache = DetailsCache(engine.system, retry=0.01)
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


def test_without_the_event_stream_every_listing_inspects(engine, hosting):
    h, cache = hosting
    engine.system.stream.put(None)  # the stream ends: the engine went away
    engine.system.stream = None  # and cannot be followed again
    c = engine.containers.add("site", labels={"dockerlink": "1"})
    time.sleep(0.05)
    counter = Counting(engine)
    listing(h)
    engine.containers.by_id[c.id] = type(c)(**{**c.__dict__, "started_at": 1})  # no event
    assert listing(h)[c.id]["started_at"] == 1
    assert counter.reset() == (2, 2)


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

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    end = time.monotonic() + 5
    while not cache._following and time.monotonic() < end:
        time.sleep(0.001)
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
    end = time.monotonic() + 5
    while cache.mark() == mark and time.monotonic() < end:
        time.sleep(0.001)
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
