"""The journal and the engine-event translation, over plain values (no daemon)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockerlink.engine import EngineUnavailable
from dockerlink.engine.models import EngineEvent
from dockerlink.events.follower import CURSOR, Follower, Translator
from dockerlink.events.journal import Journal
from dockerlink.events.oom import OomCount, OomCounter
from tests.fakes import FakeEngine, FakeStore

ID = "a" * 64


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal(str(tmp_path / "events.sqlite3"))


@pytest.fixture
def engine() -> FakeEngine:
    e = FakeEngine()
    e.containers.add("site1", labels={"dockerlink": "0.1.0"})
    return e


def ev(action: str, t: float, cid: str = ID, **attrs: str) -> EngineEvent:
    return EngineEvent("container", action, cid, t, {"name": "site1", **attrs}, time_nano=int(t * 1e9))


def types(journal: Journal) -> list[tuple[str, dict]]:
    return [(e.type, e.detail) for e in journal.read(0, limit=1000)]


class Inspector:
    """inspect() answers a container with the restart count the test sets."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.restart_count = 0

    def inspect(self, ref: str):  # noqa: ANN201
        c = next(iter(self.engine.containers.by_id.values()))
        return replace(c, id=ID, restart_count=self.restart_count)


def test_seq_strictly_increases_and_a_key_is_written_once(journal):
    first = journal.append(1.0, ID, "site1", "started", {}, key="k1")
    again = journal.append(1.0, ID, "site1", "started", {}, key="k1")
    second = journal.append(2.0, ID, "site1", "died", {"exit_code": 3}, key="k2")
    assert again is None
    assert first.seq < second.seq
    journal.prune(1.5)
    third = journal.append(3.0, ID, "site1", "started", {}, key="k3")
    assert third.seq > second.seq  # never reused, even after pruning
    assert [e.seq for e in journal.read(0)] == [second.seq, third.seq]


def test_read_filters_by_full_id_and_type(journal):
    journal.append(1.0, ID, "site1", "started", {})
    journal.append(2.0, "b" * 64, "site2", "died", {})
    assert [e.name for e in journal.read(0, container=ID)] == ["site1"]
    assert [e.name for e in journal.read(0, container="b" * 64)] == ["site2"]
    assert [e.name for e in journal.read(0, types=["died"])] == ["site2"]


def test_a_containers_events_are_its_own_never_an_earlier_ones_of_the_same_name(journal):
    """A name is reused: `site1` deleted, then created again, is another container."""
    old, new = "0" * 64, "1" * 64
    journal.append(1.0, old, "site1", "backup_done", {"backup": "20260101T000000Z-0000000a"})
    journal.append(2.0, old, "site1", "deleted", {})
    journal.append(3.0, new, "site1", "created", {})
    assert [(e.seq, e.type) for e in journal.read(0, container=new)] == [(3, "created")]
    assert [(e.seq, e.type) for e in journal.read(0, container=old)] == [(1, "backup_done"), (2, "deleted")]
    for not_an_id in ("site1", "0000", "1111", ""):  # a name or prefix is no container's full id
        assert journal.read(0, container=not_an_id) == []


def test_a_die_after_a_kill_is_no_crash_and_a_bare_die_is(journal, engine):
    t = Translator(journal, Inspector(engine))
    for e in (ev("start", 1), ev("kill", 2, signal="15"), ev("die", 3, exitCode="0"), ev("stop", 3.1)):
        t.handle(e)
    t.handle(ev("start", 4))
    t.handle(ev("die", 5, exitCode="3"))
    assert types(journal) == [
        ("started", {}),
        ("died", {"exit_code": 0, "crash": False, "oom_killed": False}),
        ("stopped", {"by": "other"}),
        ("started", {}),
        ("died", {"exit_code": 3, "crash": True, "oom_killed": False}),
    ]


def test_a_stop_asked_through_dockerlink_says_so(journal, engine):
    t = Translator(journal, Inspector(engine))
    journal.note_request(ID, "stop", at=9.0)
    t.handle(ev("kill", 10))
    t.handle(ev("die", 10.5, exitCode="143"))
    t.handle(ev("stop", 11))
    assert types(journal)[-1] == ("stopped", {"by": "dockerlink"})


def test_a_start_with_a_higher_restart_count_is_a_restart_by_policy(journal, engine):
    inspector = Inspector(engine)
    t = Translator(journal, inspector)
    t.handle(ev("start", 1))
    t.handle(ev("die", 2, exitCode="3"))
    inspector.restart_count = 1
    t.handle(ev("start", 3))
    assert types(journal)[-1] == ("restarted", {"count": 1})


def test_an_oom_before_the_die_marks_it(journal, engine):
    t = Translator(journal, Inspector(engine))
    t.handle(ev("oom", 1))
    t.handle(ev("die", 1.1, exitCode="137"))
    assert types(journal) == [
        ("oom", {"source": "engine"}),
        ("died", {"exit_code": 137, "crash": True, "oom_killed": True}),
    ]


class Counts:
    """The cgroup counters the OOM counter reads, as the test sets them."""

    def __init__(self) -> None:
        self.now: list[OomCount] = []

    def __call__(self) -> list[OomCount]:
        return self.now


def test_the_cgroup_counter_adds_the_kills_the_engine_did_not_report(journal):
    counts = Counts()
    counter = OomCounter(counts, journal, clock=lambda: 10.0)
    counts.now = [OomCount(ID, "site1", 100, 0)]
    assert counter.check() == []  # the baseline
    counts.now = [OomCount(ID, "site1", 100, 2)]
    made = counter.check()
    assert [(e.type, e.detail) for e in made] == [("oom", {"source": "cgroup", "kills": 2, "total": 2})]
    counter.handle(ev("oom", 25), replayed=False)  # the engine saw this one (the follower journaled it)
    counts.now = [OomCount(ID, "site1", 100, 3)]
    assert counter.check() == []
    assert counter.check() == []  # no rise, nothing
    # A new life of the container starts its counter again from 0.
    counts.now = [OomCount(ID, "site1", 200, 1)]
    assert [e.detail["kills"] for e in counter.check()] == [1]


class WritesSeen(Journal):
    """The journal, with each `set_counters` call's rows kept."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.writes: list[list[tuple[str, str, int]]] = []

    def set_counters(self, rows) -> None:  # noqa: ANN001
        self.writes.append(list(rows))
        super().set_counters(rows)


def test_the_cgroup_counter_writes_back_only_the_counters_that_changed_in_one_transaction(tmp_path):
    journal = WritesSeen(str(tmp_path / "events.sqlite3"))
    counts = Counts()
    counter = OomCounter(counts, journal)
    other = "b" * 64
    counts.now = [OomCount(ID, "site1", 100, 0), OomCount(other, "site2", 100, 0)]
    counter.check()
    assert journal.writes == [[(ID, "oom_kills@100", 0), (other, "oom_kills@100", 0)]]  # the baselines
    journal.writes.clear()
    counter.check()
    assert journal.writes in ([], [[]])  # nothing changed: nothing written
    counts.now = [OomCount(ID, "site1", 100, 0), OomCount(other, "site2", 100, 3)]
    assert [e.detail["kills"] for e in counter.check()] == [3]
    assert journal.writes[-1] == [(other, "oom_kills@100", 3)]
    # a fresh counter (the job restarted) reads them back: no kill counted twice
    assert OomCounter(counts, journal).check() == []


def test_an_engine_oom_read_again_after_a_restart_hides_no_later_kill(journal):
    counts = Counts()
    counter = OomCounter(counts, journal)
    counts.now = [OomCount(ID, "site1", 100, 1)]
    assert [e.detail["kills"] for e in counter.check()] == [1]
    counter.handle(ev("oom", 25), replayed=True)  # matched before the restart
    counts.now = [OomCount(ID, "site1", 100, 2)]
    assert [e.detail["kills"] for e in counter.check()] == [1]


def test_a_destroyed_containers_engine_ooms_are_forgotten(journal):
    counts = Counts()
    counter = OomCounter(counts, journal)
    counter.handle(ev("oom", 25), replayed=False)
    counter.handle(ev("destroy", 26), replayed=False)
    counts.now = [OomCount(ID, "site1", 100, 1)]  # (a full id reused: only in a test)
    assert [e.detail["kills"] for e in counter.check()] == [1]


def test_the_oom_counter_backs_off_while_the_engine_is_away_and_dies_on_anything_else(journal):
    def away() -> list[OomCount]:
        raise EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")

    asked: list[float] = []

    def wait(seconds: float) -> bool:  # recorded, never slept
        asked.append(seconds)
        return len(asked) == 7

    OomCounter(away, journal, every=5.0).run(wait)
    assert asked == [5.0, 5.0, 8.0, 16.0, 32.0, 60.0, 60.0]

    def broken() -> list[OomCount]:
        raise ValueError("a bug")

    with pytest.raises(ValueError):  # the collector reports the job dead and starts it again
        OomCounter(broken, journal).run(wait)


class Stream:
    """An engine event log: follow() answers the events in [since, until]."""

    def __init__(self, events: list[EngineEvent]) -> None:
        self.events = events
        self.asked: list[float] = []

    def follow(self, since, until, filters=None):  # noqa: ANN001, ANN201
        self.asked.append(since)
        return iter([e for e in self.events if since <= e.time <= until])


def test_a_restarted_follower_replays_without_doubling_or_losing(journal, engine, tmp_path):
    log = [ev("start", 1000), ev("kill", 1001), ev("die", 1002, exitCode="0"), ev("stop", 1002.5)]
    stream = Stream(log[:2])
    now = [1001.5]
    Follower(stream, Translator(journal, Inspector(engine)), journal, clock=lambda: now[0], window=0).window_once()
    assert journal.state(CURSOR) == str(int(1001e9))
    # Killed; meanwhile the container stopped. A new follower (new memory) resumes.
    stream.events = log
    now[0] = 1010.0
    fresh = Journal(journal.path)
    Follower(stream, Translator(fresh, Inspector(engine)), fresh, clock=lambda: now[0], window=0).window_once()
    assert types(fresh) == [
        ("started", {}),
        ("died", {"exit_code": 0, "crash": False, "oom_killed": False}),  # the replayed kill still counts
        ("stopped", {"by": "other"}),
    ]
    assert stream.asked[-1] <= 1001.0 - 60  # read again from well before the cursor


def test_create_asks_for_the_limits_that_protect_the_host_and_listing_shows_exits(engine, tmp_path):
    from dockerlink.config import Config
    from dockerlink.engine import ContainerDetails
    from dockerlink.hosting.limits import host_protection
    from dockerlink.hosting.panel import exit_fields

    protection = host_protection(Config(pids_limit=512, log_max_size="5m", log_max_files=2))
    assert protection == {
        "pids_limit": 512,
        "log_driver": "json-file",
        "log_options": {"max-size": "5m", "max-file": "2"},
    }
    c = ContainerDetails.from_api(
        {
            "Id": ID,
            "RestartCount": 2,
            "State": {"Running": True, "OOMKilled": True, "ExitCode": 137, "FinishedAt": "2026-01-01T00:00:00.5Z"},
        }
    )
    assert exit_fields(c, 0) == {
        "restart_count": 2,
        "oom_killed": True,
        "last_exit": {"code": 137, "at": 1767225600.5},
        "oom_kills": 0,
    }
    never = ContainerDetails.from_api({"Id": ID, "State": {"FinishedAt": "0001-01-01T00:00:00Z"}})
    assert exit_fields(never, 0)["last_exit"] is None


def test_the_listing_counts_oom_kills_of_a_living_container_from_the_cgroup_counter(journal, engine, tmp_path):
    from dockerlink.config import Config
    from dockerlink.hosting import Hosting

    config = Config(stats_db=str(tmp_path / "stats.sqlite3"), events_db=journal.path)
    OomCounter(lambda: [OomCount(ID, "site1", 1767225600, 2)], journal).check()
    engine.containers.add("site1", labels={"dockerlink": "0.1.0"}, id=ID, started_at=1767225600)
    hosting = Hosting(engine, config, FakeStore(), journal=Journal(journal.path))  # a worker's own connection
    assert hosting.describe_many([ID])["success"][ID]["oom_kills"] == 2
    alone = Hosting(engine, config, FakeStore())  # no journal given: none read
    assert alone.describe_many([ID])["success"][ID]["oom_kills"] == 0


class Consumer:
    """A consumer of the follower that keeps what it was handed."""

    def __init__(self, *actions: str) -> None:
        self.actions = actions
        self.handed: list[tuple[str, float, bool]] = []
        self.told: list[bool] = []

    def handle(self, ev: EngineEvent, replayed: bool) -> None:
        self.handed.append((ev.action, ev.time, replayed))

    def following(self, yes: bool) -> None:
        self.told.append(yes)


def test_one_follower_hands_each_event_to_the_consumers_that_read_its_action(journal, engine):
    log = [ev("start", 1000), ev("pause", 1001), ev("oom", 1002), ev("die", 1003, exitCode="137")]
    stream = Stream(log)
    pauses, ooms = Consumer("pause", "unpause"), Consumer("oom", "destroy")
    follower = Follower(
        stream,
        Translator(journal, Inspector(engine)),
        journal,
        consumers=[pauses, ooms],
        clock=lambda: 1010.0,
        window=0,
    )
    assert follower.filters == {
        "type": ["container"],
        "label": ["dockerlink"],
        "event": ["create", "destroy", "die", "kill", "oom", "pause", "start", "stop", "unpause", "update"],
    }
    assert follower.window_once() == 3  # started, oom, died: journaled
    assert pauses.handed == [("pause", 1001, False)]
    assert ooms.handed == [("oom", 1002, False)]
    assert pauses.told == ooms.told == [True]
    # A new follower reads the log again from before the cursor: the consumers hear it is a replay.
    again = Consumer("oom")
    fresh = Translator(journal, Inspector(engine))
    Follower(stream, fresh, journal, consumers=[again], clock=lambda: 1010.0, window=0).window_once()
    assert again.handed == [("oom", 1002, True)]
    assert [e.type for e in journal.read(0)] == ["started", "oom", "died"]  # not twice


def test_a_broken_stream_tells_the_consumers_they_are_not_followed(journal, engine):
    class Breaks:
        def follow(self, since, until, filters=None):  # noqa: ANN001, ANN201
            yield ev("start", 1000)
            raise EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")

    watcher = Consumer("start")
    follower = Follower(Breaks(), Translator(journal, Inspector(engine)), journal, consumers=[watcher], window=0)
    with pytest.raises(EngineUnavailable):
        follower.window_once()
    assert watcher.told == [True, False] and watcher.handed == [("start", 1000, False)]
    follower.run(lambda seconds: True)  # stopped at once, after one more try
    assert watcher.told[-1] is False


def test_the_oom_watch_reads_each_running_sites_counter_from_its_cgroup(tmp_path, engine):
    from dockerlink.events.oom import OomWatch
    from tests.stats.trees import make_v2

    [site] = engine.containers.by_id.values()
    engine.containers.by_id[site.id] = replace(site, pid=4242, running=True, state="running")
    scope = make_v2(tmp_path / "host", site.id, 4242)
    (scope / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\n")
    counts = OomWatch(engine.containers, root=str(tmp_path / "host")).counts()
    assert [(c.container_id, c.count) for c in counts] == [(site.id, 2)]


class Listed:
    """The fake engine's containers, with each listing counted."""

    def __init__(self, containers) -> None:  # noqa: ANN001
        self._containers = containers
        self.lists = 0

    def list(self, all=True, filters=None):  # noqa: A002, ANN001, ANN201
        self.lists += 1
        return self._containers.list(all=all, filters=filters)

    def inspect(self, ref):  # noqa: ANN001, ANN201
        return self._containers.inspect(ref)


def _running_site(tmp_path, engine, name: str, pid: int, kills: int) -> str:  # noqa: ANN001
    from tests.stats.trees import make_v2

    c = engine.containers.add(name, labels={"dockerlink": "0.1.0"})
    engine.containers.by_id[c.id] = replace(c, pid=pid, running=True, state="running")
    scope = make_v2(tmp_path / "host", c.id, pid)
    (scope / "memory.events").write_text(f"low 0\nhigh 0\nmax 0\noom 0\noom_kill {kills}\n")
    return c.id


def test_the_oom_watch_lists_once_then_follows_starts_and_deaths_from_the_events(tmp_path):
    from dockerlink.events.oom import OomWatch, RunningSites

    engine = FakeEngine()
    now = [0.0]
    first = _running_site(tmp_path, engine, "site1", 4242, 1)
    containers = Listed(engine.containers)
    watch = OomWatch(containers, root=str(tmp_path / "host"), running=RunningSites(relist=600, clock=lambda: now[0]))
    counter = OomCounter(watch.counts, Journal(str(tmp_path / "events.sqlite3")), running=watch.running)
    counter.following(True)
    assert [(c.container_id, c.count) for c in watch.counts()] == [(first, 1)] and containers.lists == 1
    counter.following(True)  # the follower's next window: still following
    assert len(watch.counts()) == 1 and containers.lists == 1  # no event, no listing
    second = _running_site(tmp_path, engine, "site2", 4343, 5)
    counter.handle(ev("start", 1, second), replayed=False)
    assert sorted(c.count for c in watch.counts()) == [1, 5] and containers.lists == 1
    counter.handle(ev("die", 2, first), replayed=False)
    assert [c.container_id for c in watch.counts()] == [second] and containers.lists == 1
    counter.following(False)  # the stream broke: a start or die may be missed
    watch.counts()
    assert containers.lists == 2
    counter.following(True)
    watch.counts()
    watch.counts()
    assert containers.lists == 3
    now[0] = 600.0  # the safety net
    watch.counts()
    assert containers.lists == 4


def test_an_event_heard_while_listing_is_applied_on_top_of_the_listing():
    from dockerlink.events.oom import RunningSites

    running = RunningSites()
    running.following(True)

    def listing() -> set[str]:
        running.heard(ev("die", 1, "a"))  # died after the engine answered the list
        running.heard(ev("start", 2, "c"))  # started after it
        return {"a", "b"}

    assert running.listing(listing) == {"b", "c"}
    assert running.ids() == {"b", "c"}
