"""The store over a simulated week: one sample a minute, clock injected through `ts`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest

from dockerlink.stats.arithmetic import format_ts
from dockerlink.stats.rendering import sample_body
from dockerlink.stats.samples import Reading, Sample
from dockerlink.stats.store import DAY, HOUR, StatsStore

A = "a" * 64  # sampled all week
B = "b" * 64  # vanished (deleted outside dockerlink) after day 1
T0 = 1_699_999_200.0  # a multiple of 1200: windows line up with the start
STEP = 60.0
DAYS = 8


def cpu(i: int) -> float:
    return (i % 7) * 10.0


def mem(i: int) -> float:
    return 1_000_000 + (i % 11) * 1000


def delta_up(i: int) -> int:
    return 100 + i % 5


def delta_down(i: int) -> int:
    return 7 * (i % 3)


def ts(i: int) -> float:
    return T0 + STEP * i


N = int((DAYS * DAY + HOUR) / STEP)
NOW = ts(N - 1)


def sample(i: int) -> Sample:
    return Sample(
        ts=ts(i),
        cpu_percent=cpu(i),
        cpu_limit=50.0 if i < N // 2 else None,
        memory_used=mem(i),
        memory_limit=float(2**30),
        net_up=sum(delta_up(k) for k in range(max(0, i - 4), i + 1)),  # any growing value will do
        net_down=i,
        delta_up=delta_up(i),
        delta_down=delta_down(i),
    )


def entry(container_id: str, s: Sample) -> tuple[Reading, Sample]:
    return Reading(container_id, s.ts, True), s


@dataclass
class Week:
    store: StatsStore
    path: str


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Week:
    path = str(tmp_path_factory.mktemp("week") / "stats.sqlite3")
    store = StatsStore(path)
    for i in range(N):
        entries = [(Reading(A, ts(i), True, cpu_ns=i * 10**9, net_rx=i, net_tx=2 * i), sample(i))]
        if ts(i) < T0 + DAY:
            entries.append((Reading(B, ts(i), True), sample(i)))
        store.record_round(ts(i), entries)
        store.maintain(ts(i))
    return Week(store, path)


def spacing(points: list[Sample]) -> set[float]:
    return {b.ts - a.ts for a, b in zip(points, points[1:], strict=False)}


def window(start: float, width: float) -> list[int]:
    return [i for i in range(N) if start <= ts(i) < start + width]


def test_every_sample_is_kept_for_4_hours(week):
    points = week.store.history(A, scale="instant")
    assert spacing(points) == {STEP}
    assert points[-1].ts == NOW
    assert NOW - 4 * HOUR - 120 < points[0].ts <= NOW - 4 * HOUR
    assert [p.cpu_percent for p in points[-3:]] == [cpu(N - 3), cpu(N - 2), cpu(N - 1)]


def tier_part(points: list[Sample], width: float) -> list[Sample]:
    """A scale's own points: those of its closed windows (finer samples follow them)."""
    return [p for p in points if p.ts <= math.floor(NOW / width) * width - width]


def test_2_minute_points_cover_a_day_with_window_means_and_delta_sums(week):
    points = tier_part(week.store.history(A, scale="day"), 120)
    assert spacing(points) == {120.0}
    assert NOW - DAY - 1200 < points[0].ts <= NOW - DAY
    assert points[-1].ts == math.floor(NOW / 120) * 120 - 120  # the last closed window
    for p in (points[0], points[len(points) // 2], points[-1]):
        members = window(p.ts, 120)
        assert len(members) == 2
        assert p.cpu_percent == pytest.approx(sum(map(cpu, members)) / 2)
        assert p.memory_used == pytest.approx(sum(map(mem, members)) / 2)
        assert p.delta_up == sum(map(delta_up, members))
        assert p.delta_down == sum(map(delta_down, members))
        assert p.net_down == members[-1]  # counters and limits: the window's last sample


def test_20_minute_points_cover_the_week_with_window_means_and_delta_sums(week):
    points = tier_part(week.store.history(A, scale="week"), 1200)
    assert spacing(points) == {1200.0}
    assert NOW - 7 * DAY <= points[0].ts < NOW - 7 * DAY + 1200
    for p in (points[0], points[len(points) // 2], points[-1]):
        members = window(p.ts, 1200)
        assert len(members) == 20
        assert p.cpu_percent == pytest.approx(sum(map(cpu, members)) / 20)
        assert p.memory_used == pytest.approx(sum(map(mem, members)) / 20)
        assert p.delta_up == sum(map(delta_up, members))
        assert p.cpu_limit == sample(members[-1]).cpu_limit


@pytest.mark.parametrize(("scale", "width"), [("day", 120), ("week", 1200)])
def test_a_scale_ends_with_the_finer_points_not_yet_rolled_up_counting_each_byte_once(week, scale, width):
    """A panel asking for a day must not get `{}` while samples exist."""
    points = week.store.history(A, scale=scale)
    own = tier_part(points, width)
    tail = points[len(own) :]
    assert tail and tail[0].ts == own[-1].ts + width  # from where the last window ends
    assert tail[-1].ts == NOW
    assert [p.ts for p in points] == sorted({p.ts for p in points})
    covered = [i for i in range(N) if ts(i) >= points[0].ts]
    assert sum(p.delta_up for p in points) == sum(map(delta_up, covered))


def test_merged_history_is_ascending_and_counts_every_byte_once(week):
    points = week.store.history(A)
    assert [p.ts for p in points] == sorted({p.ts for p in points})
    covered = [i for i in range(N) if ts(i) >= points[0].ts]
    assert sum(p.delta_up for p in points) == sum(map(delta_up, covered))
    assert sum(p.delta_down for p in points) == sum(map(delta_down, covered))
    # fine where fine data exists: the last 4 hours are every sample
    assert [p.ts for p in points if p.ts >= NOW - 4 * HOUR] == [
        p.ts for p in week.store.history(A, scale="instant") if p.ts >= NOW - 4 * HOUR
    ]
    assert spacing(points) == {STEP, 120.0, 1200.0}


def test_since_is_exclusive_keeping_points_after_it(week):
    since = NOW - 2 * DAY
    points = week.store.history(A, since=since)
    assert points and all(p.ts > since for p in points)
    assert week.store.history(A, since=points[0].ts)[0] == points[1]
    assert len(points) < len(week.store.history(A))


def test_a_container_that_vanished_is_pruned_by_retention(week):
    # B's last sample is 7 days old: every tier has let it go, so has its previous reading.
    assert [week.store.history(B, scale=s) for s in ("instant", "day", "week")] == [[], [], []]
    assert not week.store.has_history(B)
    assert B not in week.store.previous_readings()


def test_the_history_survives_reopening_the_store(week):
    reopened = StatsStore(week.path)
    assert reopened.history(A) == week.store.history(A)
    assert reopened.previous_readings()[A].cpu_ns == (N - 1) * 10**9
    assert reopened.last_sample_time() == NOW
    reopened.close()


# --- single behaviours on a fresh store ------------------------------------------------


@pytest.fixture
def store(tmp_path) -> StatsStore:
    s = StatsStore(str(tmp_path / "stats.sqlite3"))
    yield s
    s.close()


def test_last_sample_time_is_none_before_the_first_round(store):
    assert store.last_sample_time() is None
    store.record_round(T0, [])
    assert store.last_sample_time() == T0


def test_unknown_container_has_no_history(store):
    assert store.history(A) == []
    assert not store.has_history(A)


def test_forget_drops_the_whole_history_and_previous_reading(store):
    for i in range(5):
        store.record_round(ts(i), [entry(A, sample(i)), entry(B, sample(i))])
    store.forget(A, now=ts(5))
    assert store.history(A) == [] and not store.has_history(A)
    assert A not in store.previous_readings()
    assert len(store.history(B)) == 5


def test_forget_seeks_the_containers_rows_and_scans_no_table(store):
    for i in range(3):
        store.record_round(ts(i), [entry(A, sample(i)), entry(B, sample(i))])
    db = store._db()
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        store.forget(A, now=ts(3))
    finally:
        db.set_trace_callback(None)
    deletes = [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    assert any("recent" in s for s in deletes) and any("points" in s for s in deletes)
    for statement in deletes:  # traced with the values bound: the plan of exactly what ran
        plan = " | ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "SCAN recent" not in plan and "SCAN points" not in plan, (statement, plan)
    assert store.history(A) == [] and len(store.history(B)) == 3


def test_a_round_sampled_before_the_delete_does_not_bring_the_history_back(store):
    store.record_round(ts(0), [entry(A, sample(0))])
    store.forget(A, now=ts(1))
    store.record_round(ts(1), [entry(A, sample(1))])  # was in flight
    assert store.history(A) == []
    assert A not in store.previous_readings()


def test_pruning_a_backlog_is_bounded_per_round(tmp_path):
    store = StatsStore(str(tmp_path / "stats.sqlite3"), prune_budget=50)
    ids = [f"{k:064x}" for k in range(10)]
    for i in range(60):  # an hour of 10 containers
        store.record_round(ts(i), [entry(cid, sample(i)) for cid in ids])
    later = ts(60) + 2 * DAY  # everything has aged out of tier 0
    store.maintain(later)
    left = sum(len(store.history(cid, scale="instant")) for cid in ids)
    assert 600 - 60 <= left < 600  # 50 rows, rounded up to whole timestamps of 10
    for _ in range(20):
        store.maintain(later)
    assert sum(len(store.history(cid, scale="instant")) for cid in ids) == 0
    store.close()


@pytest.mark.parametrize("scale", [None, "instant", "day", "week"])
def test_the_json_answer_holds_the_same_points_in_the_same_order(week, scale):
    points = week.store.history(A, since=NOW - 2 * DAY, scale=scale)
    answer = json.loads(week.store.history_json(A, since=NOW - 2 * DAY, scale=scale))
    assert list(answer) == [format_ts(p.ts) for p in points]
    ceiling = week.store.host_cpus() * 100.0  # an unlimited CPU reads as the host's cores × 100
    filled = [p if p.cpu_limit is not None else p._replace(cpu_limit=ceiling) for p in points]
    # Every-sample points also carry pids and oom_kills (extra fields of the raw reading).
    extras = ("pids", "oom_kills")
    answer = {k: {f: v for f, v in body.items() if f not in extras} for k, body in answer.items()}
    assert answer == {format_ts(p.ts): sample_body(p) for p in filled}


def test_a_reader_maps_the_file_and_the_collector_maps_none(tmp_path):
    # Every mapped page the collector's roll-ups touch would stay in its RSS (docs/benchmarks.md).
    reader = StatsStore(str(tmp_path / "stats.sqlite3"))
    writer = StatsStore(str(tmp_path / "stats.sqlite3"), mmap_bytes=0)
    assert reader._db().execute("PRAGMA mmap_size").fetchone() == (256 * 1024 * 1024,)
    assert writer._db().execute("PRAGMA mmap_size").fetchone() == (0,)
    reader.close()
    writer.close()
