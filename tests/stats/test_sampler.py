import os
import threading

import pytest

from dockerlink.engine import ContainerDetails, EngineEvent, EngineUnavailable, ServerError, StatsSnapshot
from dockerlink.stats.collector import ContainerChanges
from dockerlink.stats.sampler import CgroupSource, CgroupUnavailable, EngineSource, Sampler

from .trees import (
    V1_CPU,
    V1_CPUACCT,
    V1_ID,
    V1_MEMORY,
    V1_PID,
    FakeContainers,
    copy_v1,
    details,
    make_v1_systemd,
    make_v2,
    net_dev,
    recorded,
    summary,
    write,
)

ID2 = "b" * 64


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> FakeContainers:
    return FakeContainers()


class NoEngineCalls(FakeContainers):
    def stats(self, ref: str) -> StatsSnapshot:
        raise AssertionError(f"the engine was asked for {ref}'s stats")


# --- cgroup source -------------------------------------------------------------------


def test_v1_reading_from_the_recorded_tree(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    r = CgroupSource(fake, root=str(root), clock=Clock(1000.0)).read(V1_ID)
    assert r.read_at == 1000.0
    assert r.running
    assert r.cpu_ns == 54_908_027
    assert r.memory_used == 9_150_464 - 8_003_584  # usage minus total_inactive_file
    assert r.memory_limit == 67_108_864
    assert (r.cpu_quota, r.cpu_period) == (50000, 100000)
    assert (r.net_rx, r.net_tx) == (486, 0)


def test_v1_systemd_driver_unlimited_container_shows_the_host_memory(tmp_path, fake):
    root = tmp_path / "host"
    make_v1_systemd(root, ID2, 77)
    fake.details[ID2] = details(ID2, 77)
    r = CgroupSource(fake, root=str(root)).read(ID2)
    assert r.cpu_ns == 7_000_000_000
    assert r.memory_used == 2_000_000
    assert r.memory_limit == 4_096_000 * 1024
    assert r.cpu_quota is None
    assert (r.net_rx, r.net_tx) == (300, 100)


def test_v2_reading(tmp_path, fake):
    root = tmp_path / "host"
    make_v2(root, ID2, 4242)
    fake.details[ID2] = details(ID2, 4242)
    r = CgroupSource(fake, root=str(root)).read(ID2)
    assert r.cpu_ns == 2_500_000 * 1000  # usage_usec
    assert r.memory_used == 10_485_760 - 8_388_608  # memory.current minus inactive_file
    assert r.memory_limit == 2_048_000 * 1024  # memory.max "max": the host's memory
    assert (r.cpu_quota, r.cpu_period) == (150000, 100000)
    assert (r.net_rx, r.net_tx) == (1024, 2048)  # eth0 + eth1, lo left out


def test_v2_memory_limit(tmp_path, fake):
    root = tmp_path / "host"
    make_v2(root, ID2, 4242, memory_max="268435456", cpu_max="max 100000")
    fake.details[ID2] = details(ID2, 4242)
    r = CgroupSource(fake, root=str(root)).read(ID2)
    assert r.memory_limit == 268_435_456
    assert r.cpu_quota is None


def test_later_rounds_reread_open_files_without_asking_the_engine_again(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    source = CgroupSource(fake, root=str(root))
    source.read(V1_ID)
    write(root / V1_CPUACCT / "cpuacct.usage", "554908027\n")
    write(root / f"proc/{V1_PID}/net/dev", net_dev(rx0=10_000, tx0=20_000))
    r = source.read(V1_ID)
    assert r.cpu_ns == 554_908_027
    assert (r.net_rx, r.net_tx) == (10_000, 20_000)
    assert fake.inspected == [V1_ID]


# --- the limits: read when due, and at once after the engine's `update` ------------------


def updated(cid: str, at: float) -> EngineEvent:
    return EngineEvent("container", "update", cid, at, {"dockerlink": "0.1.0"})


def followed_v1(tmp_path, fake, clock):
    """A v1 container read once through a source that hears the follower (followed since now)."""
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    changes = ContainerChanges(clock)
    changes.following(True)
    source = CgroupSource(fake, root=str(root), clock=clock, changes=changes, limits_every=60.0)
    assert limits_after(source, clock, 0) == AS_RECORDED
    return root, changes, source


def resize_v1(root) -> None:
    """What `docker update --memory 128m --cpus 0.25 --cpu-period 50000` writes."""
    write(root / V1_MEMORY / "memory.limit_in_bytes", "134217728\n")
    write(root / V1_CPU / "cpu.cfs_quota_us", "12500\n")
    write(root / V1_CPU / "cpu.cfs_period_us", "50000\n")


RESIZED = (134_217_728, 12500, 50000)
AS_RECORDED = (67_108_864, 50000, 100000)


def limits_after(source: CgroupSource, clock: Clock, seconds: float) -> tuple:
    clock.now += seconds
    r = source.read(V1_ID)
    return r.memory_limit, r.cpu_quota, r.cpu_period


def test_an_update_of_the_container_shows_its_new_limits_in_the_next_round(tmp_path, fake):
    clock = Clock(1000.0)
    root, changes, source = followed_v1(tmp_path, fake, clock)
    resize_v1(root)
    changes.handle(updated(V1_ID, 1003.0), replayed=False)
    assert limits_after(source, clock, 10) == RESIZED


def test_limits_are_not_read_again_each_round_while_nothing_updated_the_container(tmp_path, fake):
    clock = Clock(1000.0)
    root, changes, source = followed_v1(tmp_path, fake, clock)
    resize_v1(root)  # behind the engine's back: no event
    changes.handle(updated("c" * 64, 1003.0), replayed=False)  # another container's update
    write(root / V1_CPUACCT / "cpuacct.usage", "554908027\n")
    # 29 s: before the earliest point they are due again (half of limits_every)
    assert limits_after(source, clock, 29) == AS_RECORDED
    assert source.read(V1_ID).cpu_ns == 554_908_027  # the counters are read every round


def test_limits_are_read_again_within_limits_every_without_any_event(tmp_path, fake):
    clock = Clock(1000.0)
    root, changes, source = followed_v1(tmp_path, fake, clock)
    resize_v1(root)
    assert limits_after(source, clock, 60) == RESIZED


def test_a_break_in_the_event_stream_reads_the_limits_every_round(tmp_path, fake):
    clock = Clock(1000.0)
    root, changes, source = followed_v1(tmp_path, fake, clock)
    changes.following(False)  # an update may be missed from now on
    resize_v1(root)
    assert limits_after(source, clock, 10) == RESIZED


def test_without_the_follower_limits_are_read_every_round(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    clock = Clock(1000.0)
    source = CgroupSource(fake, root=str(root), clock=clock)
    assert limits_after(source, clock, 0) == AS_RECORDED
    resize_v1(root)
    assert limits_after(source, clock, 1) == RESIZED


def test_v2_an_update_shows_its_new_limits_in_the_next_round(tmp_path, fake):
    clock = Clock(1000.0)
    root = tmp_path / "host"
    scope = make_v2(root, ID2, 4242, memory_max="268435456", cpu_max="max 100000")
    fake.details[ID2] = details(ID2, 4242)
    changes = ContainerChanges(clock)
    changes.following(True)
    source = CgroupSource(fake, root=str(root), clock=clock, changes=changes)
    assert (source.read(ID2).memory_limit, source.read(ID2).cpu_quota) == (268_435_456, None)
    write(scope / "memory.max", "536870912\n")
    write(scope / "cpu.max", "50000 100000\n")
    clock.now += 10
    kept = source.read(ID2)
    assert (kept.memory_limit, kept.cpu_quota) == (268_435_456, None)  # no update heard yet
    changes.handle(updated(ID2, 1012.0), replayed=False)
    clock.now += 10
    r = source.read(ID2)
    assert (r.memory_limit, r.cpu_quota, r.cpu_period) == (536_870_912, 50000, 100000)


def invalidate(source: CgroupSource, container_id: str, tmp_path) -> None:
    """What the kernel does to the open files of a removed cgroup: reads fail (ENODEV).
    A directory in their place fails reads the same way (EISDIR)."""
    dead = os.open(tmp_path, os.O_RDONLY)
    handles = source._handles[container_id]
    for slot in ("cpu", "usage", "stat", "limit", "quota", "period", "net"):
        os.dup2(dead, getattr(handles, slot))
    os.close(dead)


def restart(root, fake: FakeContainers, new_pid: int) -> None:
    write(root / f"proc/{new_pid}/cgroup", (root / f"proc/{V1_PID}/cgroup").read_text())
    write(root / f"proc/{new_pid}/net/dev", net_dev(rx0=70))
    fake.details[V1_ID] = details(V1_ID, new_pid)


def test_a_container_restarted_between_rounds_is_read_again_under_its_new_pid(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    source = CgroupSource(fake, root=str(root))
    source.read(V1_ID)
    invalidate(source, V1_ID, tmp_path)  # its cgroup was removed and made anew
    restart(root, fake, 31000)
    r = source.read(V1_ID)
    assert r.net_rx == 70
    assert fake.inspected == [V1_ID, V1_ID]


def test_a_stop_seen_in_the_listing_closes_the_files_and_a_start_opens_them_anew(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    sampler = Sampler(EngineSource(NoEngineCalls()), CgroupSource(fake, root=str(root)))
    sampler.sample([summary(V1_ID)])
    [stopped] = sampler.sample([summary(V1_ID, "exited")])
    assert not stopped.running
    restart(root, fake, 31000)
    [running] = sampler.sample([summary(V1_ID)])
    assert running.net_rx == 70
    assert fake.inspected == [V1_ID, V1_ID]


def test_a_container_gone_before_it_is_read_is_skipped(tmp_path, fake):
    root = copy_v1(tmp_path)
    assert CgroupSource(fake, root=str(root)).read(V1_ID) is None


def test_a_container_that_stopped_before_it_is_read_is_skipped(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID, running=False)
    assert CgroupSource(fake, root=str(root)).read(V1_ID) is None


def test_a_container_removed_between_rounds_is_skipped(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    source = CgroupSource(fake, root=str(root))
    source.read(V1_ID)
    invalidate(source, V1_ID, tmp_path)  # its cgroup is gone…
    del fake.details[V1_ID]  # …and so is the container
    assert source.read(V1_ID) is None


def test_a_cgroup_hidden_from_this_namespace_is_left_to_the_engine_and_not_retried_each_round(tmp_path, fake):
    root = copy_v1(tmp_path)
    write(root / f"proc/{V1_PID}/cgroup", "4:memory:/\n2:cpuacct:/\n1:cpu:/\n")  # not the container's
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    clock = Clock(1000.0)
    source = CgroupSource(fake, root=str(root), clock=clock, retry_after=300)
    with pytest.raises(CgroupUnavailable):
        source.read(V1_ID)
    with pytest.raises(CgroupUnavailable):
        source.read(V1_ID)
    assert fake.inspected == [V1_ID]
    clock.now += 301
    with pytest.raises(CgroupUnavailable):
        source.read(V1_ID)
    assert fake.inspected == [V1_ID, V1_ID]


def test_retain_closes_the_files_of_containers_no_longer_running(tmp_path, fake):
    root = copy_v1(tmp_path)
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    source = CgroupSource(fake, root=str(root))
    source.read(V1_ID)
    source.retain([])
    source.read(V1_ID)
    assert fake.inspected == [V1_ID, V1_ID]


# --- engine source -------------------------------------------------------------------

RECORDED_ID = "d51152d558e5ba91a3372299fb0cc9e22f32955211dec6293e00e8a8bb7b3dd6"


def recorded_engine() -> FakeContainers:
    fake = FakeContainers()
    fake.details[RECORDED_ID] = ContainerDetails.from_api(recorded("inspect_running.json"))
    fake.snapshots[RECORDED_ID] = StatsSnapshot.from_api(recorded("stats_running.json"))
    return fake


def test_engine_reading_from_recorded_stats_and_inspect():
    source = EngineSource(recorded_engine())
    [r] = source.read_many([RECORDED_ID])
    assert r.container_id == RECORDED_ID
    assert r.read_at == pytest.approx(1795753743.107773545, abs=1e-6)  # "read": 2026-11-27T04:29:03.107773545Z
    assert r.cpu_ns == 883_427_121
    assert r.memory_used == 8_892_416 - 8_003_584
    assert r.memory_limit == 67_108_864
    assert (r.cpu_quota, r.cpu_period) == (50000, 100000)  # from the inspect: stats carry no quota
    assert (r.net_rx, r.net_tx) == (426, 0)
    source.close()


def test_engine_reading_of_a_container_limited_by_nano_cpus():
    fake = recorded_engine()
    fake.details[RECORDED_ID] = details(RECORDED_ID, 1, nano_cpus=1_500_000_000)
    [r] = EngineSource(fake).read_many([RECORDED_ID])
    assert (r.cpu_quota, r.cpu_period) == (150000, 100000)


def test_engine_skips_containers_gone_or_stopped_mid_round():
    fake = recorded_engine()
    gone, stopping = "e" * 64, "f" * 64
    fake.details[stopping] = details(stopping, 9)  # inspect says running, stats say stopped
    fake.snapshots[stopping] = StatsSnapshot.from_api(recorded("stats_stopped.json"))
    readings = EngineSource(fake).read_many([gone, RECORDED_ID, stopping])
    assert [r.container_id for r in readings] == [RECORDED_ID]


def test_engine_asks_for_a_whole_round_in_one_fan_out():
    """Stats of every container and the inspects it needs go out in one call (in flight
    together: tests/engine/test_fanout.py), never one container after another."""
    calls = []

    class Recording(FakeContainers):
        def stats_many(self, refs, *, inspect=(), timeout=30.0):  # noqa: ANN001, ANN201
            calls.append((list(refs), list(inspect)))
            return super().stats_many(refs, inspect=inspect)

    fake = Recording()
    ids = [f"{i:064x}" for i in range(12)]
    for cid in ids:
        fake.details[cid] = details(cid, 1)
        fake.snapshots[cid] = StatsSnapshot.from_api(recorded("stats_running.json"))
    readings = EngineSource(fake).read_many(ids)
    assert [r.container_id for r in readings] == ids
    assert calls == [(ids, ids)]


class Waking(FakeContainers):
    """Records the calls made outside a round (by `prepare()`, from its own thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.woken: list[list[str]] = []
        self.called = threading.Event()

    def stats_many(self, refs, *, inspect=(), timeout=30.0):  # noqa: ANN001, ANN201
        if len(refs) == 1 and not inspect:
            self.woken.append(list(refs))
            self.called.set()
        return super().stats_many(refs, inspect=inspect, timeout=timeout)


def test_prepare_wakes_the_engine_with_one_container_of_the_last_round():
    fake = Waking()
    ids = [f"{i:064x}" for i in range(3)]
    for cid in ids:
        fake.details[cid] = details(cid, 1)
        fake.snapshots[cid] = StatsSnapshot.from_api(recorded("stats_running.json"))
    source = EngineSource(fake)
    source.prepare()  # no round yet: nothing to wake the engine with
    source.read_many(ids)
    fake.woken.clear()
    fake.called.clear()
    source.prepare()
    assert fake.called.wait(5)
    assert fake.woken == [[ids[0]]]


def test_prepare_does_nothing_before_a_round_of_one_container():
    """A single call wakes the engine's stats loop itself and is read at once."""
    fake = Waking()
    fake.details[RECORDED_ID] = details(RECORDED_ID, 1)
    fake.snapshots[RECORDED_ID] = StatsSnapshot.from_api(recorded("stats_running.json"))
    source = EngineSource(fake)
    source.read_many([RECORDED_ID])
    fake.called.clear()
    source.prepare()
    assert not fake.called.wait(0.5)


def test_no_wake_up_once_every_container_reads_from_its_cgroup_again(tmp_path):
    root = copy_v1(tmp_path)
    fake = Waking()
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    for cid in (RECORDED_ID, ID2):
        fake.details[cid] = details(cid, 1)
        fake.snapshots[cid] = StatsSnapshot.from_api(recorded("stats_running.json"))
    engine_only = Waking()
    engine_only.details, engine_only.snapshots = fake.details, fake.snapshots
    sampler = Sampler(EngineSource(engine_only), CgroupSource(fake, root=str(root)))
    sampler.sample([summary(RECORDED_ID), summary(ID2)])  # no cgroup files here: the engine reads them
    sampler.sample([summary(V1_ID)])  # read from its cgroup: the engine is not needed
    engine_only.called.clear()
    sampler.prepare()
    assert not engine_only.called.wait(0.5)


def test_an_unreachable_engine_fails_the_round():
    class Down(FakeContainers):
        def inspect(self, ref: str) -> ContainerDetails:
            raise EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")

    with pytest.raises(EngineUnavailable):
        EngineSource(Down()).read_many([RECORDED_ID])


# --- the sampler ---------------------------------------------------------------------


def test_sampler_gives_zeros_for_stopped_containers_without_reading_anything(tmp_path):
    fake = FakeContainers()
    sampler = Sampler(EngineSource(fake), CgroupSource(fake, root=str(copy_v1(tmp_path))), Clock(5.0))
    readings = sampler.sample([summary(ID2, "exited"), summary("9" * 64, "created")])
    assert [(r.container_id, r.running, r.cpu_ns, r.memory_limit) for r in readings] == [
        (ID2, False, 0, 0),
        ("9" * 64, False, 0, 0),
    ]
    assert fake.inspected == []


def test_sampler_reads_cgroups_where_it_can_and_asks_the_engine_for_the_rest(tmp_path):
    root = copy_v1(tmp_path)
    fake = recorded_engine()
    fake.details[V1_ID] = details(V1_ID, V1_PID)
    engine_only = FakeContainers()
    engine_only.details = fake.details
    engine_only.snapshots = fake.snapshots
    sampler = Sampler(EngineSource(engine_only), CgroupSource(fake, root=str(root)))
    readings = sampler.sample([summary(V1_ID), summary(RECORDED_ID)])
    assert {r.container_id: r.cpu_ns for r in readings} == {V1_ID: 54_908_027, RECORDED_ID: 883_427_121}
    assert engine_only.inspected == [RECORDED_ID]  # only the container with no readable cgroup


def test_sampler_without_cgroups_uses_the_engine_for_every_running_container():
    fake = recorded_engine()
    readings = Sampler(EngineSource(fake)).sample([summary(RECORDED_ID), summary(ID2, "exited")])
    assert [(r.container_id, r.running) for r in readings] == [(ID2, False), (RECORDED_ID, True)]


def test_an_engine_error_for_one_container_skips_it_not_the_round():
    class Odd(FakeContainers):
        def stats(self, ref: str) -> StatsSnapshot:
            if ref == ID2:
                raise ServerError(500, "container is marked for removal and cannot be started")
            return super().stats(ref)

    fake = Odd()
    fake.details.update(recorded_engine().details)
    fake.snapshots.update(recorded_engine().snapshots)
    fake.details[ID2] = details(ID2, 5)
    readings = EngineSource(fake).read_many([ID2, RECORDED_ID])
    assert [r.container_id for r in readings] == [RECORDED_ID]


def test_engine_asks_for_the_cpu_quota_once_a_minute_not_every_round():
    fake, clock = recorded_engine(), Clock(0.0)
    source = EngineSource(fake, limits_ttl=60, clock=clock)
    for now in (0.0, 10.0, 59.0, 60.0):
        clock.now = now
        [reading] = source.read_many([RECORDED_ID])
        assert reading.cpu_quota == 50000
    assert fake.inspected == [RECORDED_ID, RECORDED_ID]  # at 0 and at 60


def test_the_oom_kill_counter_and_pids_are_read_when_the_files_are_there(tmp_path):
    """memory.oom_control (v1) / memory.events (v2) and pids.current are optional files:
    read when present, 0 otherwise (tested on plain files: the parsing is the point)."""
    from dockerlink.cgroups import CgroupDirs
    from dockerlink.stats.sampler import _Handles

    d = tmp_path / "cg"
    d.mkdir()
    for name, text in {
        "cpu.stat": "usage_usec 5\n",
        "memory.current": "100\n",
        "memory.stat": "inactive_file 0\n",
        "memory.max": "max\n",
        "cpu.max": "max 100000\n",
        "memory.events": "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n",
        "pids.current": "17\n",
    }.items():
        (d / name).write_text(text)
    net = tmp_path / "net_dev"
    net.write_text("h1\nh2\n")
    handles = _Handles(CgroupDirs(2, str(d), str(d), str(d), str(d)), str(net))
    try:
        assert handles.oom >= 0 and handles.pids >= 0
        assert os.pread(handles.pids, 64, 0) == b"17\n"
    finally:
        handles.close()
