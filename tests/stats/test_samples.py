from dockerlink.stats.samples import Reading, derive, stopped

ID = "a" * 64


def reading(at: float, cpu_ns: int, rx: int, tx: int, **kw) -> Reading:
    kw.setdefault("memory_used", 1_146_880)
    kw.setdefault("memory_limit", 67_108_864)
    kw.setdefault("cpu_quota", 50000)
    kw.setdefault("cpu_period", 100000)
    return Reading(ID, at, True, cpu_ns=cpu_ns, net_rx=rx, net_tx=tx, **kw)


def test_a_sample_measures_cpu_and_net_against_the_previous_reading():
    s = derive(reading(100.0, 2 * 10**9, 1000, 400), reading(110.0, 7 * 10**9, 3048, 1424), ts=110)
    assert s.cpu_percent == 50.0  # 5 s of CPU in 10 s
    assert (s.net_down, s.net_up) == (3048, 1424)
    assert (s.delta_down, s.delta_up) == (2048, 1024)
    assert s.cpu_limit == 50.0
    assert (s.memory_used, s.memory_limit) == (1_146_880, 67_108_864)


def test_the_first_sample_of_a_container_has_no_cpu_or_deltas_to_measure():
    s = derive(None, reading(110.0, 7 * 10**9, 3048, 1424), ts=110)
    assert (s.cpu_percent, s.delta_up, s.delta_down) == (0.0, 0, 0)
    assert s.net_down == 3048


def test_a_restart_between_samples_gives_zero_deltas_not_negative_ones():
    s = derive(reading(100.0, 9 * 10**9, 50_000, 40_000), reading(110.0, 10**8, 100, 50), ts=110)
    assert (s.cpu_percent, s.delta_up, s.delta_down) == (0.0, 0, 0)


def test_a_container_that_is_not_running_gives_zeros_limits_included():
    s = derive(reading(100.0, 10**9, 10, 10), stopped(ID, 110.0), ts=110)
    assert (s.cpu_percent, s.cpu_limit, s.memory_used, s.memory_limit) == (0.0, 0.0, 0, 0)
    assert (s.net_up, s.net_down, s.delta_up, s.delta_down) == (0, 0, 0, 0)


def test_after_a_stopped_sample_the_counters_since_the_start_count_in_full():
    s = derive(stopped(ID, 100.0), reading(110.0, 2 * 10**9, 500, 300), ts=110)
    assert s.cpu_percent == 20.0
    assert (s.delta_down, s.delta_up) == (500, 300)


def test_an_unlimited_cpu_has_a_null_limit():
    s = derive(None, reading(110.0, 0, 0, 0, cpu_quota=None, cpu_period=100000), ts=110)
    assert s.cpu_limit is None
