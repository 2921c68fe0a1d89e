"""pids and oom_kills: kept with every-sample rows (for /metrics and the history's extra
fields), also in a file written before they existed."""

from __future__ import annotations

import json
import sqlite3

from dockerlink.stats.rendering import fill_cpu_ceiling, join, render
from dockerlink.stats.samples import Reading, derive
from dockerlink.stats.store import StatsStore

ID = "c" * 64


def test_a_round_keeps_pids_and_oom_kills_for_metrics_and_the_history(tmp_path):
    store = StatsStore(str(tmp_path / "s.sqlite3"))
    reading = Reading(ID, 10.0, True, memory_limit=1 << 30, pids=17, oom_kills=2)
    store.record_round(10.0, [(reading, derive(None, reading, 10.0))])
    [row] = store.latest_round()
    assert (row["pids"], row["oom_kills"]) == (17, 2)
    body = json.loads(store.history_json(ID))["10"]
    assert (body["pids"], body["oom_kills"]) == (17, 2)
    store.close()


def test_a_file_from_before_the_counts_gains_their_columns(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE recent (ts REAL NOT NULL, cid INTEGER NOT NULL, cpu REAL NOT NULL, cpu_limit REAL,"
        " mem_used REAL NOT NULL, mem_limit REAL NOT NULL, net_up INTEGER NOT NULL, net_down INTEGER NOT NULL,"
        " delta_up INTEGER NOT NULL, delta_down INTEGER NOT NULL, body TEXT NOT NULL, read_at REAL NOT NULL,"
        " cpu_ns INTEGER NOT NULL, PRIMARY KEY (ts, cid)) WITHOUT ROWID"
    )
    db.commit()
    db.close()
    store = StatsStore(path)
    reading = Reading(ID, 10.0, True, memory_limit=1 << 30, pids=3)
    store.record_round(10.0, [(reading, derive(None, reading, 10.0))])
    assert store.latest_round()[0]["pids"] == 3
    store.close()


def test_coarse_points_carry_the_most_processes_and_the_last_oom_count_of_their_window(tmp_path):
    store = StatsStore(str(tmp_path / "s.sqlite3"))
    t0 = 1_800_000_000.0 - 1_800_000_000.0 % 1200  # a 20-minute boundary
    # One sample a minute for 20 minutes: pids peak at 50 in the first 2-minute window's
    # first sample, then sit at 5; the OOM-kill counter rises 0, 1, ... over time.
    previous = None
    for i in range(20):
        pids = 50 if i == 0 else 5
        reading = Reading(ID, t0 + 60 * i, True, memory_limit=1 << 30, pids=pids, oom_kills=i // 3)
        store.record_round(reading.read_at, [(reading, derive(previous, reading, reading.read_at))])
        previous = reading
    store.maintain(t0 + 1200 + 1)
    day = json.loads(store.history_json(ID, scale="day"))
    first, second = day[str(int(t0))], day[str(int(t0 + 120))]
    assert (first["pids"], first["oom_kills"]) == (50, 0)  # the max, not the mean 27.5; last count of 0, 0
    assert (second["pids"], second["oom_kills"]) == (5, 1)  # samples 2 and 3: counts 0 then 1
    [week] = json.loads(store.history_json(ID, scale="week")).values()
    assert (week["pids"], week["oom_kills"]) == (50, 19 // 3)
    # Every other field is what it was: the point's own rendering, plus the two counts.
    point = next(s for s in store.history(ID, scale="day") if s.ts == t0)
    alone = fill_cpu_ceiling(join([render(point)]), store.host_cpus() * 100.0)
    assert json.loads(alone)[str(int(t0))] == {k: v for k, v in first.items() if k not in ("pids", "oom_kills")}
    store.close()
