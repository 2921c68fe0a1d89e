"""pids and oom_kills: kept with every-sample rows (for /metrics and the history's extra
fields), also in a file written before they existed."""

from __future__ import annotations

import json
import sqlite3

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
