"""A create's port-area check: from the worker's book of areas, without listing every
container, and still exact across workers and behind dockerlink's back."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest

from dockerlink.config import Config
from dockerlink.engine import EngineEvent
from dockerlink.errors import Conflicting
from dockerlink.hosting import Hosting, areas
from dockerlink.hosting.listing import DetailsCache
from dockerlink.hosting.parsing import parse_create
from tests.fakes import FakeEngine, FakeStore
from tests.waiting import until

SIZE = 500


class Feed:
    """One worker's own connection to the engine's event stream: every event, in the
    engine's order, delivered only while `gate` is open (a worker whose stream lags)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[EngineEvent | None] = queue.Queue()
        self.gate = threading.Event()
        self.gate.set()
        self.delivered = 0

    def follow(self, since: float, until: float | None = None, filters=None) -> Iterator[EngineEvent]:  # noqa: ANN001
        while True:
            self.gate.wait()
            event = self.queue.get()
            if event is None:
                return
            yield event
            self.delivered += 1


class Fanout:
    """The engine's side: each event goes to every worker's feed."""

    def __init__(self, feeds: list[Feed]) -> None:
        self.feeds = feeds
        self.count = 0

    def put(self, event: EngineEvent | None) -> None:
        self.count += event is not None
        for f in self.feeds:
            f.queue.put(event)


class Lists:
    """Counts the engine's container lists (the check's fallback)."""

    def __init__(self, engine: FakeEngine) -> None:
        self.count = 0
        real = engine.containers.list

        def counted(*a, **kw):
            self.count += 1
            return real(*a, **kw)

        engine.containers.list = counted


@pytest.fixture
def two_workers(tmp_path):
    """One engine, two workers (each its Hosting, listing cache and stream), one create lock."""
    engine = FakeEngine()
    feeds = [Feed(), Feed()]
    engine.system.stream = Fanout(feeds)
    config = Config(create_lock=str(tmp_path / "create.lock"), port_area_size=SIZE)
    workers = []
    for feed in feeds:
        cache = DetailsCache(feed, retry=3600.0)
        workers.append((Hosting(engine, config, FakeStore(), cache=cache), feed, cache))
        cache.start()
        until(lambda cache=cache: cache._following, "the worker follows its stream")
    yield engine, workers
    for _, feed, cache in workers:
        cache.close()
        feed.gate.set()
        feed.queue.put(None)


def caught_up(engine: FakeEngine, *feeds: Feed) -> None:
    until(lambda: all(f.delivered == engine.system.stream.count for f in feeds), "the streams delivered every event")


def create(h: Hosting, name: str, root: int) -> str:
    return h.create(parse_create({"name": name, "host_port_root": root, "memory": 0.25, "cpulimit": 0.5}, h.config))[0]


def seeded(engine: FakeEngine, h: Hosting, feed: Feed) -> None:
    """The worker's first create lists once and seeds its book (then it is deleted)."""
    create(h, "seed", 60000)
    caught_up(engine, feed)
    h.delete("seed")
    caught_up(engine, feed)


def test_a_create_with_the_book_seeded_lists_no_container(two_workers):
    engine, [(a, feed_a, _), _] = two_workers
    for i in range(20):
        engine.containers.add(f"site{i}", labels={"dockerlink": "1", "dockerlink.host_port_root": str(2000 + i * SIZE)})
    seeded(engine, a, feed_a)
    lists = Lists(engine)
    create(a, "new", 20000)
    with pytest.raises(Conflicting, match="site1 "):
        create(a, "clash", 2000 + SIZE + 10)
    assert lists.count == 1  # the clash only: a conflict the book finds is confirmed by a list


def test_a_create_in_another_worker_a_moment_earlier_is_seen_though_this_workers_stream_lags(two_workers):
    engine, [(a, feed_a, _), (b, feed_b, _)] = two_workers
    seeded(engine, a, feed_a)
    seeded(engine, b, feed_b)
    feed_b.gate.clear()  # B's stream lags: A's create has not reached B's book
    create(a, "first", 3000)
    lists = Lists(engine)
    threading.Timer(0.05, feed_b.gate.set).start()  # it comes, after B's create began waiting
    with pytest.raises(Conflicting, match="that of container first "):
        create(b, "second", 3100)
    assert lists.count == 1  # B waited for its barrier, its book found A's site; the list confirmed it
    assert [c.name for c in engine.containers.by_id.values()] == ["first"]
    assert "dockerlink-second-www" not in engine.volumes.names  # what the refused create made is gone


def test_containers_made_and_removed_outside_dockerlink_count_and_stop_counting(two_workers):
    engine, [(a, feed_a, _), _] = two_workers
    seeded(engine, a, feed_a)
    outside = engine.containers.add("outside", labels={"dockerlink": "1", "ports": "5000"})  # the original's label
    lists = Lists(engine)
    with pytest.raises(Conflicting, match="that of container outside "):
        create(a, "mine", 5200)
    engine.containers.remove(outside.id, force=True)  # `docker rm` behind dockerlink's back
    create(a, "mine", 5200)
    assert lists.count == 1  # only the conflict's confirmation


def test_a_stream_that_delivers_nothing_makes_the_create_list_once_waited_then_at_once(two_workers, monkeypatch):
    engine, [(a, feed_a, _), _] = two_workers
    seeded(engine, a, feed_a)
    monkeypatch.setattr(areas, "BARRIER_WAIT", 0.05)
    feed_a.gate.clear()  # the connection died silently
    engine.containers.add("outside", labels={"dockerlink": "1", "dockerlink.host_port_root": "7000"})
    lists = Lists(engine)
    with pytest.raises(Conflicting, match="that of container outside "):
        create(a, "late", 7100)
    book = a._details_cache().areas
    would_wait: list[bool] = []
    wait_for = book._cond.wait_for
    monkeypatch.setattr(
        book._cond, "wait_for", lambda ready, timeout: would_wait.append(not ready()) or wait_for(ready, timeout)
    )
    create(a, "other", 9000)  # at once: the book stays stale, seeded or not, until the stream restarts
    assert lists.count == 2 and would_wait == [False]


def test_without_a_stream_every_create_lists(tmp_path):
    engine = FakeEngine()  # no event stream at all
    h = Hosting(engine, Config(create_lock=str(tmp_path / "create.lock"), port_area_size=SIZE), FakeStore())
    engine.containers.add("site", labels={"dockerlink": "1", "dockerlink.host_port_root": "4000"})
    lists = Lists(engine)
    with pytest.raises(Conflicting):
        create(h, "new", 4499)
    create(h, "new", 4500)
    assert lists.count == 2


def test_a_list_older_than_an_event_does_not_undo_it():
    book = areas.AreaBook()
    book.reset(following=True)
    listed = [type("S", (), {"id": "c1", "name": "gone", "labels": {"dockerlink": "1", "ports": "2000"}})()]
    mark = book.mark()
    book.changed(EngineEvent("container", "destroy", "c1", 0.0, {"dockerlink": "1", "ports": "2000"}))
    book.seed(listed, mark)  # listed before the destroy arrived
    assert book.overlapping(2000, SIZE) is None
    book.reset(following=True)  # the stream restarted: a list begun before is refused
    mark = book.mark()
    book.reset(following=True)
    book.seed(listed, mark)
    assert book.overlapping(2000, SIZE) is None
