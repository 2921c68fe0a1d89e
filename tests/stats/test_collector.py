import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from dockerlink.engine import Engine, EngineEvent, EngineInfo, EngineUnavailable
from dockerlink.stats.collector import Collector, ContainerChanges, Listing
from dockerlink.stats.sampler import CgroupSource, EngineSource, Sampler
from dockerlink.stats.samples import Reading
from dockerlink.stats.store import StatsStore

from .trees import DATA, V1_CPUACCT, V1_ID, V1_PID, FakeContainers, copy_v1, details, net_dev, summary, write

GONE = "9" * 64
BASE = "http+unix://%2Fvar%2Frun%2Fdocker.sock"  # the socket as the transport spells it in a URL
STOPPED = "5" * 64


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Scripted:
    """A sampler that returns the readings it is given, one list per round."""

    def __init__(self, *rounds: list[Reading]) -> None:
        self.rounds = list(rounds)

    def sample(self, containers):
        return self.rounds.pop(0)


def reading(at: float, cpu_s: float, rx: int = 0) -> Reading:
    return Reading(V1_ID, at, True, cpu_ns=int(cpu_s * 1e9), memory_used=100, memory_limit=200, net_rx=rx)


@pytest.fixture
def store(tmp_path):
    s = StatsStore(str(tmp_path / "stats.sqlite3"))
    yield s
    s.close()


def test_two_rounds_from_cgroup_files_give_cpu_percent_and_net_deltas(tmp_path, store):
    root = copy_v1(tmp_path)
    fake = FakeContainers()
    fake.listing = [summary(V1_ID)]
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    clock = Clock(1000.0)
    sampler = Sampler(EngineSource(fake), CgroupSource(fake, root=str(root), clock=clock), clock)
    collector = Collector(fake, sampler, store, clock)
    collector.collect_once(1000.0)
    clock.now = 1010.0
    write(root / V1_CPUACCT / "cpuacct.usage", str(54_908_027 + 5 * 10**9))  # 5 s of CPU in 10 s
    write(root / f"proc/{V1_PID}/net/dev", net_dev(rx0=486 + 2048, tx0=1024))
    report = collector.collect_once(1010.0)
    assert (report.listed, report.sampled, report.running) == (1, 1, 1)
    first, second = store.history(V1_ID)
    assert (first.cpu_percent, first.delta_down) == (0.0, 0)
    assert second.cpu_percent == pytest.approx(50.0)
    assert (second.delta_down, second.delta_up) == (2048, 1024)
    assert second.cpu_limit == 50.0
    assert fake.list_filters == [{"label": ["dockerlink"]}] * 2


def test_the_hosts_cores_are_asked_once_and_kept_for_the_cpu_ceiling(store):
    class Host:
        asked = 0

        def info(self):
            Host.asked += 1
            return EngineInfo(cpus=3, memory_total=1 << 30, cgroup_version="1", cgroup_driver="cgroupfs")

    fake = FakeContainers()
    fake.listing = [summary(V1_ID)]
    collector = Collector(fake, Scripted([reading(1000.0, 1.0)], [reading(1010.0, 2.0)]), store, host=Host())
    collector.collect_once(1000.0)
    collector.collect_once(1010.0)
    assert Host.asked == 1
    assert store.host_cpus() == 3
    assert json.loads(store.history_json(V1_ID))["1010"]["cpu"]["limit"] == 300.0


def test_only_containers_labelled_dockerlink_are_listed(store):
    fake = FakeContainers()
    Collector(fake, Scripted([]), store).collect_once(1000.0)
    assert fake.list_filters == [{"label": ["dockerlink"]}]


def test_a_stopped_container_is_stored_as_zeros(store):
    fake = FakeContainers()
    fake.listing = [summary(STOPPED, "exited")]
    sampler = Sampler(EngineSource(fake))
    Collector(fake, sampler, store).collect_once(1000.0)
    [point] = store.history(STOPPED)
    assert (point.cpu_percent, point.cpu_limit, point.memory_used, point.memory_limit, point.net_down) == (
        0,
        0,
        0,
        0,
        0,
    )


def test_a_container_that_vanishes_mid_round_is_skipped_and_the_others_are_stored(tmp_path, store):
    root = copy_v1(tmp_path)
    fake = FakeContainers()
    fake.listing = [summary(GONE), summary(V1_ID)]  # GONE was removed after the listing
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    sampler = Sampler(EngineSource(fake), CgroupSource(fake, root=str(root)))
    report = Collector(fake, sampler, store).collect_once(1000.0)
    assert (report.listed, report.sampled) == (2, 1)
    assert store.history(GONE) == [] and len(store.history(V1_ID)) == 1


def test_after_a_restart_cpu_percent_is_measured_against_the_stored_reading(tmp_path):
    path = str(tmp_path / "stats.sqlite3")
    fake = FakeContainers()
    fake.listing = [summary(V1_ID)]
    before = StatsStore(path)
    Collector(fake, Scripted([reading(1000.0, 10.0)]), before).collect_once(1000.0)
    before.close()

    after = StatsStore(path)  # a new process: nothing in memory
    Collector(fake, Scripted([reading(1020.0, 15.0, rx=300)]), after).collect_once(1020.0)
    points = after.history(V1_ID)
    assert [p.ts for p in points] == [1000.0, 1020.0]
    assert points[1].cpu_percent == pytest.approx(25.0)  # 5 s of CPU over 20 s
    assert points[1].delta_down == 300
    after.close()


def test_an_unreachable_engine_fails_the_round_and_writes_nothing(store):
    class Down(FakeContainers):
        def list(self, all=True, filters=None):
            raise EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")

    with pytest.raises(EngineUnavailable):
        Collector(Down(), Scripted([]), store).collect_once(1000.0)
    assert store.last_sample_time() is None


def test_each_round_records_its_time_for_health(store):
    fake = FakeContainers()
    collector = Collector(fake, Scripted([], []), store)
    collector.collect_once(1000.0)
    collector.collect_once(1010.0)
    assert store.last_sample_time() == 1010.0


# --- which containers a round samples ---------------------------------------------------


def started(cid: str, at: float) -> EngineEvent:
    return EngineEvent("container", "start", cid, at, {"dockerlink": "0.1.0"})


def followed(clock: Clock) -> ContainerChanges:
    """What the follower's consumer knows, its stream followed from `clock`'s now on."""
    changes = ContainerChanges(clock)
    changes.following(True)
    return changes


def test_without_changes_every_round_lists_the_containers():
    fake = FakeContainers()
    listing = Listing(fake)
    listing.current()
    listing.current()
    assert listing.lists == 2


def test_the_list_is_kept_while_no_container_event_happens():
    fake, clock = FakeContainers(), Clock(1000.0)
    fake.listing = [summary(V1_ID)]
    listing = Listing(fake, followed(clock), clock=clock)
    for _ in range(3):
        assert [c.id for c in listing.current()] == [V1_ID]
        clock.now += 10
    assert listing.lists == 1


def test_the_changes_read_the_actions_that_change_the_list_and_the_limits():
    assert sorted(ContainerChanges.actions) == ["create", "destroy", "die", "pause", "start", "unpause", "update"]


def test_an_update_changes_the_limits_not_the_list():
    fake, clock = FakeContainers(), Clock(1000.0)
    changes = followed(clock)
    listing = Listing(fake, changes, clock=clock)
    listing.current()
    changes.handle(EngineEvent("container", "update", V1_ID, 1005.0, {}), replayed=False)
    clock.now += 10
    listing.current()
    assert listing.lists == 1
    assert not changes.limits_unchanged_since(V1_ID, 1005.0)
    assert changes.limits_unchanged_since(V1_ID, 1005.1)
    assert changes.limits_unchanged_since("c" * 64, 1000.0)


def test_limits_are_unknown_before_the_stream_was_followed():
    clock = Clock(1000.0)
    changes = ContainerChanges(clock)
    assert not changes.limits_unchanged_since(V1_ID, 1000.0)
    changes.following(True)
    assert not changes.limits_unchanged_since(V1_ID, 999.0)  # before it was followed
    assert changes.limits_unchanged_since(V1_ID, 1000.0)


def test_a_container_event_makes_the_next_round_ask_for_that_container():
    fake, clock = FakeContainers(), Clock(1000.0)
    changes = followed(clock)
    listing = Listing(fake, changes, clock=clock)
    assert listing.current() == []
    fake.listing = [summary(V1_ID)]
    changes.handle(started(V1_ID, 1005.0), replayed=False)
    clock.now += 10
    assert [c.id for c in listing.current()] == [V1_ID]
    assert (listing.lists, listing.patches) == (1, 1)
    assert fake.list_filters[-1] == {"label": ["dockerlink"], "id": [V1_ID]}


OTHER = "c" * 64


def event(action: str, cid: str, at: float) -> EngineEvent:
    return EngineEvent("container", action, cid, at, {"dockerlink": "0.1.0"})


def test_patches_follow_each_change_and_leave_the_unchanged_containers_as_listed():
    fake, clock = FakeContainers(), Clock(1000.0)
    changes = followed(clock)
    listing = Listing(fake, changes, clock=clock)
    fake.listing = [summary(OTHER), summary(V1_ID)]
    listing.current()
    fake.listing = [summary(OTHER, "exited"), summary(V1_ID)]  # OTHER as the engine has it now
    changes.handle(event("die", V1_ID, 1002.0), replayed=False)  # an event of V1_ID only
    fake.listing = [summary(OTHER, "exited"), summary(V1_ID, "exited")]
    clock.now += 10
    assert {c.id: c.state for c in listing.current()} == {OTHER: "running", V1_ID: "exited"}
    clock.now += 10
    listing.current()  # nothing new heard: the engine is not asked
    assert len(fake.list_filters) == 2
    fake.listing = [summary(OTHER, "exited"), summary(V1_ID)]
    changes.handle(event("start", V1_ID, 1015.0), replayed=False)  # the same container again
    clock.now += 10
    assert {c.id: c.state for c in listing.current()} == {OTHER: "running", V1_ID: "running"}
    fake.listing = [summary(OTHER, "exited")]
    changes.handle(event("destroy", V1_ID, 1025.0), replayed=False)
    clock.now += 10
    assert [c.id for c in listing.current()] == [OTHER]
    assert (listing.lists, listing.patches) == (1, 3)


def test_an_event_that_arrives_late_is_still_patched_in():
    # Its engine time is before the last patch, but after the whole list.
    fake, clock = FakeContainers(), Clock(1000.0)
    changes = followed(clock)
    listing = Listing(fake, changes, clock=clock)
    listing.current()
    fake.listing = [summary(V1_ID), summary(OTHER)]
    changes.handle(started(V1_ID, 1005.0), replayed=False)
    clock.now += 10
    assert [c.id for c in listing.current()] == [V1_ID]
    changes.handle(started(OTHER, 1006.0), replayed=False)  # heard after the patch at 1010
    clock.now += 10
    assert sorted(c.id for c in listing.current()) == sorted([V1_ID, OTHER])


def test_more_changes_than_the_patch_limit_list_the_whole_list():
    fake, clock = FakeContainers(), Clock(1000.0)
    changes = followed(clock)
    listing = Listing(fake, changes, clock=clock, patch_limit=2)
    listing.current()
    for i in range(3):
        changes.handle(started(f"{i:064x}", 1005.0), replayed=False)
    clock.now += 10
    listing.current()
    assert (listing.lists, listing.patches) == (2, 0)
    assert fake.list_filters[-1] == {"label": ["dockerlink"]}


def test_an_event_from_before_the_last_list_does_not_list_again():
    # A replay after a restart of the follower reads old events again: they are in the list.
    fake, clock = FakeContainers(), Clock(1000.0)
    changes = followed(clock)
    listing = Listing(fake, changes, clock=clock)
    listing.current()
    clock.now += 0.5
    changes.handle(started(V1_ID, 999.6), replayed=True)
    listing.current()
    assert listing.lists == 1


def test_a_break_in_the_stream_lists_every_round_until_it_is_followed_again():
    fake, clock = FakeContainers(), Clock(1000.0)
    changes = followed(clock)
    listing = Listing(fake, changes, clock=clock)
    listing.current()
    changes.following(False)  # events may be missed from now on
    clock.now += 10
    listing.current()
    clock.now += 10
    listing.current()
    assert listing.lists == 3
    clock.now += 5
    changes.following(True)
    clock.now += 5
    listing.current()  # listed after the stream is back: the list holds what was missed
    clock.now += 10
    listing.current()
    assert listing.lists == 4


def test_not_followed_yet_every_round_lists():
    fake, clock = FakeContainers(), Clock(1000.0)
    listing = Listing(fake, ContainerChanges(clock), clock=clock)
    listing.current()
    clock.now += 10
    listing.current()
    assert listing.lists == 2


def test_the_list_is_refreshed_every_minute_even_without_events():
    fake, clock = FakeContainers(), Clock(1000.0)
    listing = Listing(fake, followed(clock), clock=clock, refresh=60)
    listing.current()
    clock.now += 59
    listing.current()
    clock.now += 1
    listing.current()
    assert listing.lists == 2


def test_a_failed_round_lists_afresh_next_time(store):
    fake = FakeContainers()

    class Failing:
        def sample(self, containers):
            raise EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")

    collector = Collector(fake, Failing(), store, changes=followed(Clock(999.0)))
    with pytest.raises(EngineUnavailable):
        collector.collect_once(1000.0)
    collector._sampler = Scripted([])
    collector.collect_once(1010.0)
    assert collector.listing.lists == 2


def test_engine_events_parse_from_a_recorded_answer():
    """System.events asks for a closed window and reads the engine's JSON lines."""
    body = (DATA / "engine" / "events.jsonl").read_bytes()
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/v1.41/events", body=body, content_type="application/json")
        with Engine("/var/run/docker.sock") as engine:
            events = engine.system.events(1795758000.5, 1795758200.25, {"type": ["container"]})
        query = parse_qs(urlsplit(mock.calls[0].request.url).query)
    assert [e.action for e in events] == ["create", "start", "die", "destroy"]
    assert events[0].actor_id == "21cc8b9417665247659b5f3196c21c4a4aa765c4a8e9da0134c9b586e9c39cf4"
    assert events[0].time == pytest.approx(1795758134.615203269, abs=1e-6)
    assert events[0].attributes["dockerlink"] == "0.1.0"
    assert query["since"] == ["1795758000.500000000"] and query["until"] == ["1795758200.250000000"]
    assert json.loads(query["filters"][0]) == {"type": ["container"]}


def test_a_round_notes_its_duration_and_time_for_metrics(store):
    class Slow(Scripted):
        def sample(self, containers):
            clock.now += 0.75  # the round takes 0.75 s of the injected clock
            return super().sample(containers)

    fake = FakeContainers()
    fake.listing = [summary(V1_ID)]
    clock = Clock(2000.0)
    Collector(fake, Slow([reading(2000.0, 1.0)]), store, clock).collect_once()
    notes = store.notes()
    assert notes["round_seconds"] == pytest.approx(0.75)
    assert notes["last_round"] == 2000.0
    [row] = store.latest_round()
    assert (row["container"], row["cpu_ns"], row["mem_used"]) == (V1_ID, 10**9, 100)
