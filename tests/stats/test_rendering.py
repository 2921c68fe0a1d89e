"""How a sample reads in the answer: units, decimals, and never a NaN."""

import json
import math

import pytest

from dockerlink.stats.arithmetic import format_ts
from dockerlink.stats.rendering import fill_cpu_ceiling, join, render, sample_body
from dockerlink.stats.samples import Reading, Sample
from dockerlink.stats.store import StatsStore

from .trees import point

ID = "1" * 64


def history_json(samples: list[Sample]) -> str:
    return join([render(s) for s in samples])


def test_body_is_timestamps_to_samples_in_gib_percent_and_kib():
    body = json.loads(history_json([point(1_700_000_000.0), point(1_700_000_010.0, cpu_limit=None)]))
    assert list(body) == ["1700000000", "1700000010"]
    assert body["1700000000"] == {
        "memory": {"used": 0.001068, "limit": 0.0625},
        "cpu": {"usage_percent": 49.88, "limit": 50.0},
        "net": {"up": 1.0, "down": 3.0, "delta_up": 0.5, "delta_down": 0.0},
    }
    assert body["1700000010"]["cpu"]["limit"] is None  # as stored: unlimited


def test_an_unlimited_cpu_reads_as_the_hosts_ceiling_never_null():
    text = history_json([point(1_700_000_000.0), point(1_700_000_010.0, cpu_limit=None)])
    body = json.loads(fill_cpu_ceiling(text, 400.0))
    assert body["1700000000"]["cpu"]["limit"] == 50.0
    assert body["1700000010"]["cpu"]["limit"] == 400.0
    assert body["1700000010"]["memory"] == json.loads(text)["1700000010"]["memory"]


def test_the_store_answers_an_unlimited_cpu_with_the_cores_the_collector_saw(tmp_path):
    store = StatsStore(str(tmp_path / "s.sqlite3"))
    store.record_round(1.0, [(Reading(ID, 1.0, True), point(1.0, cpu_limit=None))], host_cpus=6)
    assert json.loads(store.history_json(ID))["1"]["cpu"]["limit"] == 600.0
    store.close()


def test_the_fast_body_matches_the_reference_shape_value_for_value():
    samples = [point(1_700_000_000.0), point(1_700_000_010.25, cpu_limit=None, cpu_percent=0.005, net_up=10**12)]
    expected = {format_ts(s.ts): sample_body(s) for s in samples}
    assert json.loads(history_json(samples)) == expected


@pytest.mark.parametrize("bad", [{"cpu_percent": math.nan}, {"memory_used": math.inf}, {"cpu_limit": -math.inf}])
def test_a_nan_or_infinity_fails_instead_of_reaching_the_body(bad):
    with pytest.raises(ValueError, match="not JSON compliant"):
        history_json([point(1.0, **bad)])


def test_the_store_never_keeps_a_nan_or_infinity(tmp_path):
    store = StatsStore(str(tmp_path / "s.sqlite3"))
    store.record_round(1.0, [(Reading(ID, 1.0, True), point(1.0, cpu_percent=math.nan, cpu_limit=math.inf))])
    [kept] = store.history(ID)
    assert (kept.cpu_percent, kept.cpu_limit) == (0.0, 0.0)
    assert json.loads(store.history_json(ID)) == {"1": sample_body(kept) | {"pids": 0, "oom_kills": 0}}
    store.close()
