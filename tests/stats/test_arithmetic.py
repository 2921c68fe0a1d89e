import math

import pytest

from dockerlink.stats.arithmetic import (
    counter_delta,
    cpu_limit_percent,
    cpu_percent,
    finite,
    format_ts,
    gib,
    kib,
    memory_limit,
    memory_used,
)


def test_cpu_percent_is_cpu_time_over_wall_time_with_one_core_as_100():
    # 0.5 s of CPU over 2 s of wall time: a quarter of a core.
    assert cpu_percent(1_000_000_000, 1_500_000_000, 100.0, 102.0) == pytest.approx(25.0)


def test_cpu_percent_reaches_200_for_two_busy_cores():
    assert cpu_percent(0, 20_000_000_000, 0.0, 10.0) == pytest.approx(200.0)


@pytest.mark.parametrize("wall_gap", [0.0, -5.0])
def test_cpu_percent_is_zero_when_no_time_elapsed_or_the_clock_went_back(wall_gap):
    assert cpu_percent(0, 10**9, 50.0, 50.0 + wall_gap) == 0.0


def test_cpu_percent_is_zero_when_the_counter_reset():
    assert cpu_percent(9 * 10**9, 10**9, 0.0, 10.0) == 0.0


def test_counter_delta_is_the_growth_and_zero_after_a_reset():
    assert counter_delta(1000, 1500) == 500
    assert counter_delta(1500, 200) == 0


@pytest.mark.parametrize(
    ("quota", "period", "expected"),
    [(50000, 100000, 50.0), (150000, 100000, 150.0), (25000, 50000, 50.0), (1000, 100000, 1.0)],
)
def test_cpu_limit_is_quota_over_period_in_percent(quota, period, expected):
    assert cpu_limit_percent(quota, period) == pytest.approx(expected)


@pytest.mark.parametrize(("quota", "period"), [(-1, 100000), (0, 100000), (None, 100000), (50000, 0), (50000, None)])
def test_cpu_limit_is_none_when_unlimited(quota, period):
    assert cpu_limit_percent(quota, period) is None


def test_memory_used_subtracts_inactive_page_cache_like_docker_stats():
    assert memory_used(9_150_464, 8_003_584) == 1_146_880


def test_memory_used_keeps_usage_when_the_cache_figure_is_not_below_it():
    assert memory_used(4096, 8192) == 4096
    assert memory_used(4096, 0) == 4096


def test_memory_limit_is_the_cgroup_limit_when_set():
    assert memory_limit(67_108_864, 25_276_510_208) == 67_108_864


@pytest.mark.parametrize("raw", [None, 9_223_372_036_854_771_712, 0])
def test_an_unlimited_memory_limit_shows_the_host_total(raw):
    assert memory_limit(raw, 25_276_510_208) == 25_276_510_208


def test_units_are_gib_and_kib():
    assert gib(64 * 2**20) == 0.0625
    assert gib(3 * 2**30) == 3.0
    assert kib(1536) == 1.5
    assert kib(426) == 0.416


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None])
def test_finite_replaces_nan_infinity_and_none(bad):
    assert finite(bad) == 0.0
    assert gib(bad) == 0.0
    assert kib(bad) == 0.0


def test_timestamps_print_as_whole_seconds_when_they_are_whole():
    assert format_ts(1_700_000_010.0) == "1700000010"
    assert format_ts(1_700_000_010.5) == "1700000010.5"
    assert format_ts(1_700_000_010.12345) == "1700000010.123"
