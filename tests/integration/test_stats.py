"""Stats against the real dockerd: the collector driven round by round (collect_once), and
once end to end under gunicorn. CPU is checked in a wide band, never against time."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from dockerlink.engine import ContainerDetails, ContainerSpec, Engine, NotFound, StatsSnapshot, socket_path
from dockerlink.events.follower import Follower, Translator
from dockerlink.events.journal import Journal
from dockerlink.stats.collector import Collector, ContainerChanges
from dockerlink.stats.sampler import PRIME_AHEAD, CgroupSource, EngineSource, Sampler, build_sampler
from dockerlink.stats.store import StatsStore
from tests.waiting import until

from .tcp_proxy import TcpToUnix

LABELS = {"dockerlink": "test", "dockerlink.test": "1"}
MIB = 1 << 20
BURN = ("sh", "-c", "exec sha256sum /dev/zero")
# The image's own command makes SSH host keys on first start: 0.4-1.7 s of CPU measured in
# a container's first 3 s, so a freshly started site is not idle. This one is.
IDLE = ("sleep", "infinity")
SETTLE = 2.0  # seconds of CPU to accrue between two rounds (the assertion is a band, not a time)


class Only:
    """The engine's listing restricted to this module's containers: other tests running on
    the same daemon must not change what a round samples."""

    def __init__(self, engine: Engine, *ids: str) -> None:
        self._engine = engine
        self._ids = set(ids)

    def list(self, all: bool = True, filters=None):  # noqa: ANN001
        return [c for c in self._engine.containers.list(all=all, filters=filters) if c.id in self._ids]


class NoEngine:
    """An engine source that must not be asked: proves a round used the cgroup files."""

    def inspect(self, ref: str) -> ContainerDetails:
        raise AssertionError(f"the engine API was used for {ref}")

    def stats(self, ref: str) -> StatsSnapshot:
        raise AssertionError(f"the engine API was used for {ref}")

    def stats_many(self, refs, **kw):  # noqa: ANN001, ANN003, ANN201
        raise AssertionError(f"the engine API was used for {list(refs)}")


def _create(engine: Engine, base_image: str, *, start: bool, **spec) -> str:
    name = f"dltest-{uuid.uuid4().hex[:10]}"
    cid, _ = engine.containers.create(ContainerSpec(image=base_image, labels=LABELS, **spec), name=name)
    if start:
        engine.containers.start(cid)
    return cid


def _remove(engine: Engine, cid: str) -> None:
    try:
        engine.containers.remove(cid, force=True, volumes=True)
    except NotFound:
        pass


@pytest.fixture(scope="module")
def burner(engine, base_image) -> Iterator[str]:
    """Half a core (CpuQuota 50000 / CpuPeriod 100000) burnt by sha256sum, 64 MiB limit."""
    cid = _create(
        engine,
        base_image,
        start=True,
        cmd=BURN,
        memory=64 * MIB,
        memory_swap=64 * MIB,
        cpu_quota=50000,
        cpu_period=100000,
    )
    yield cid
    _remove(engine, cid)


def _cgroup_collector(engine: Engine, store: StatsStore, *ids: str) -> Collector:
    sampler = Sampler(EngineSource(NoEngine()), CgroupSource(engine.containers))
    return Collector(Only(engine, *ids), sampler, store)


def _engine_collector(engine: Engine, store: StatsStore, *ids: str) -> Collector:
    return Collector(Only(engine, *ids), Sampler(EngineSource(engine.containers)), store)


class BurnMeter:
    """The burner's own CPU rate, read from its process on this host over the stretch the
    rounds cover: on a loaded host it gets less than its half core, and the band then follows
    what it really got (the kernel's count, not the product's) instead of failing."""

    def __init__(self, engine: Engine, cid: str) -> None:
        self._stat = f"/proc/{engine.containers.inspect(cid).pid}/stat"  # `exec sha256sum`: pid 1
        self._start = self._read()

    def _read(self) -> tuple[float, float]:
        with open(self._stat) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), time.monotonic()

    def assert_matches(self, percent: float) -> None:
        """Within 15 points of the measured rate, and never above the half core's limit."""
        (cpu0, wall0), (cpu1, wall1) = self._start, self._read()
        measured = (cpu1 - cpu0) / (wall1 - wall0) * 100
        assert abs(percent - measured) <= 15.0, (percent, measured)
        assert 5.0 < percent <= 65.0, percent


def _two_rounds(collector: Collector) -> None:
    collector.collect_once()
    time.sleep(SETTLE)
    collector.collect_once()


def test_cgroup_files_read_half_a_core_and_the_limits_of_a_burning_container(engine, burner, tmp_path):
    store = StatsStore(str(tmp_path / "stats.sqlite3"))
    meter = BurnMeter(engine, burner)
    _two_rounds(_cgroup_collector(engine, store, burner))
    last = store.history(burner)[-1]
    meter.assert_matches(last.cpu_percent)
    assert last.cpu_limit == 50.0
    assert last.memory_limit == 64 * MIB
    assert 0 < last.memory_used < 64 * MIB


def test_the_engine_api_fallback_reads_the_same_container_alike(engine, burner, tmp_path):
    store = StatsStore(str(tmp_path / "stats.sqlite3"))
    meter = BurnMeter(engine, burner)
    _two_rounds(_engine_collector(engine, store, burner))
    last = store.history(burner)[-1]
    meter.assert_matches(last.cpu_percent)
    assert last.cpu_limit == 50.0
    assert last.memory_limit == 64 * MIB


def test_rounds_woken_ahead_as_the_collector_runs_them_read_every_container(engine, burner, base_image, tmp_path):
    """prepare() sends its own call in the background; the round after it still reads each
    container once, and right (how much sooner it ends is bench/stats_round.py's to say)."""
    idle = _create(engine, base_image, start=True, cmd=IDLE, memory=32 * MIB, memory_swap=32 * MIB)
    try:
        store = StatsStore(str(tmp_path / "stats.sqlite3"))
        collector = _engine_collector(engine, store, burner, idle)
        meter = BurnMeter(engine, burner)
        for round_ in range(2):
            if round_:
                time.sleep(SETTLE)  # CPU accrues between the two rounds
            collector.prepare()
            time.sleep(PRIME_AHEAD)  # as the collector's loop waits before the round
            report = collector.collect_once()
            assert (report.sampled, report.running) == (2, 2)
        burning, resting = store.history(burner)[-1], store.history(idle)[-1]
        meter.assert_matches(burning.cpu_percent)
        assert resting.cpu_percent < 5.0
        assert resting.memory_limit == 32 * MIB
    finally:
        _remove(engine, idle)


def test_a_remote_engine_is_sampled_through_its_api_only(engine, burner, tmp_path):
    """Over tcp:// (the local engine behind a forwarding port) nothing is read from this
    host's cgroups, and the fan-out's sockets reach the engine and read it right."""
    with TcpToUnix(socket_path(engine.address)) as proxy, Engine(proxy.address) as remote:
        sampler = build_sampler(remote)
        assert sampler.cgroup_source is None
        store = StatsStore(str(tmp_path / "stats.sqlite3"))
        meter = BurnMeter(engine, burner)
        _two_rounds(Collector(Only(remote, burner), sampler, store))
        sampler.close()
    last = store.history(burner)[-1]
    meter.assert_matches(last.cpu_percent)
    assert last.cpu_limit == 50.0
    assert last.memory_limit == 64 * MIB


def test_a_container_that_is_not_running_gives_zeros(engine, base_image, tmp_path):
    created = _create(engine, base_image, start=False, memory=64 * MIB, memory_swap=64 * MIB)
    exited = _create(engine, base_image, start=True, memory=64 * MIB, memory_swap=64 * MIB, cpu_quota=50000)
    try:
        engine.containers.stop(exited, t=0)
        store = StatsStore(str(tmp_path / "stats.sqlite3"))
        report = _cgroup_collector(engine, store, created, exited).collect_once()
        assert (report.sampled, report.running) == (2, 0)
        for cid in (created, exited):
            [p] = store.history(cid)
            assert (p.cpu_percent, p.cpu_limit, p.memory_used, p.memory_limit) == (0, 0, 0, 0)
            assert (p.net_up, p.net_down, p.delta_up, p.delta_down) == (0, 0, 0, 0)
    finally:
        _remove(engine, created)
        _remove(engine, exited)


def test_a_container_stopped_between_rounds_reads_zeros_the_round_after(engine, base_image, tmp_path):
    """The production listing: kept between rounds, the container asked for again (by id,
    the engine's own filter) once the collector's event follower (the one reader of the
    engine's events) hands it the `die`."""
    cid = _create(engine, base_image, start=True, memory=64 * MIB, memory_swap=64 * MIB, cpu_quota=50000)
    journal = Journal(str(tmp_path / "events.sqlite3"))
    changes = ContainerChanges()
    follower = Follower(engine.system, Translator(journal, engine.containers), journal, consumers=[changes], window=0.5)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop.wait,), daemon=True)
    thread.start()
    try:
        until(lambda: changes.unchanged_since(time.time()), "the follower follows the engine's events")
        store = StatsStore(str(tmp_path / "stats.sqlite3"))
        sampler = Sampler(EngineSource(NoEngine()), CgroupSource(engine.containers))
        collector = Collector(Only(engine, cid), sampler, store, changes=changes)
        collector.collect_once()
        listed = time.time()
        engine.containers.stop(cid, t=0)
        until(lambda: not changes.unchanged_since(listed), "the follower hands the listing the die")
        collector.collect_once()
        running, stopped = store.history(cid)
        assert running.memory_limit == 64 * MIB
        assert (stopped.memory_limit, stopped.cpu_limit, stopped.memory_used) == (0, 0, 0)
        assert (collector.listing.lists, collector.listing.patches) == (1, 1)
    finally:
        stop.set()
        thread.join(10)
        _remove(engine, cid)


def test_history_and_the_previous_reading_survive_a_restart_of_the_service(engine, burner, tmp_path):
    path = str(tmp_path / "stats.sqlite3")
    before = StatsStore(path)
    _two_rounds(_cgroup_collector(engine, before, burner))
    before.close()

    after = StatsStore(path)  # a new process: only the database carries over
    meter = BurnMeter(engine, burner)
    time.sleep(SETTLE)
    _cgroup_collector(engine, after, burner).collect_once()
    points = after.history(burner)
    assert len(points) == 3
    meter.assert_matches(points[-1].cpu_percent)  # measured against the reading stored before


def _children(pid: int) -> list[str]:
    """Command lines of the direct children of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    found.append(f.read().replace(b"\0", b" ").decode())
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return found


def test_under_gunicorn_one_collector_runs_and_the_endpoint_answers(service, engine, base_image):
    cid = _create(engine, base_image, start=True, memory=64 * MIB, memory_swap=64 * MIB, cpu_quota=50000)
    try:
        name = engine.containers.inspect(cid).name
        deadline = time.monotonic() + 30
        while True:  # the collector samples every second (stats_interval=1)
            r = service.get("/v1/container/stats", params={"id": name, "since": "0"})
            if r.status_code == 200 and len(r.json()) >= 2:
                break
            assert time.monotonic() < deadline, (r.status_code, r.text, service.log.read_text()[-2000:])
            time.sleep(0.2)
        keys = list(r.json())
        assert keys == sorted(keys, key=float)
        sample = r.json()[keys[-1]]
        assert sample["memory"]["limit"] == 0.0625
        assert sample["cpu"]["limit"] == 50.0
        assert service.get("/v1/health").json()["last_sample_age"] is not None
        collectors = [c for c in _children(service.process.pid) if "dockerlink.collector" in c]
        assert len(collectors) == 1, _children(service.process.pid)
    finally:
        _remove(engine, cid)
