import fcntl
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dockerlink.config import Config
from dockerlink.engine import Engine, EngineUnavailable
from dockerlink.stats import runner
from dockerlink.stats.runner import Loop, backoff_delay, next_tick
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


class FakeTime:
    """A clock that only moves when the loop waits or a round 'takes' time."""

    def __init__(self, now: float, rounds: int) -> None:
        self.now = now
        self.rounds_left = rounds

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        return self.rounds_left <= 0


def drive(start: float, interval: float, outcomes: list) -> tuple[list[float], FakeTime]:
    """Run the loop over `outcomes` (seconds a round takes, or an exception to raise)."""
    t = FakeTime(start, len(outcomes))
    ticks: list[float] = []

    def round_(tick: float) -> None:
        ticks.append(tick)
        t.rounds_left -= 1
        outcome = outcomes[len(ticks) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        t.now += outcome

    assert Loop(round_, interval, clock=t.clock, wait=t.wait).run() == 0
    return ticks, t


def test_next_tick_is_the_next_multiple_of_the_interval():
    assert next_tick(1003.2, 10) == 1010
    assert next_tick(1010.0, 10) == 1020
    assert next_tick(0.2, 0.5) == 0.5


def test_backoff_doubles_from_the_interval_up_to_a_cap():
    assert [backoff_delay(n, 10) for n in range(6)] == [0, 10, 20, 40, 60, 60]
    assert backoff_delay(3, 120) == 120  # never shorter than the interval itself


def test_rounds_land_on_multiples_of_the_interval():
    ticks, _ = drive(1003.2, 10, [0.3, 0.3, 0.3])
    assert ticks == [1010, 1020, 1030]


def test_a_slow_round_warns_and_skips_to_the_next_tick_instead_of_overlapping(caplog):
    with caplog.at_level(logging.WARNING, logger="dockerlink.stats"):
        ticks, _ = drive(1003.2, 10, [25.0, 0.3])
    assert ticks == [1010, 1040]
    assert "longer than the 10 s interval" in caplog.text


def test_an_unreachable_engine_backs_off_then_collection_resumes(caplog):
    down = EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")
    with caplog.at_level(logging.INFO, logger="dockerlink.stats"):
        ticks, _ = drive(1003.2, 10, [down, down, down, 0.1, 0.1])
    assert ticks == [1010, 1020, 1040, 1080, 1090]
    assert caplog.text.count("unreachable") == 1  # logged once, not every attempt
    assert "collecting again after 3 failed round(s)" in caplog.text


def test_an_unexpected_error_in_a_round_is_logged_and_the_loop_goes_on(caplog):
    with caplog.at_level(logging.ERROR, logger="dockerlink.stats"):
        ticks, _ = drive(1003.2, 10, [RuntimeError("disk full"), 0.1])
    assert ticks == [1010, 1020]
    assert "disk full" in caplog.text


def test_the_loop_ends_when_its_parent_is_gone():
    t = FakeTime(1000.0, 99)
    calls: list[float] = []
    assert Loop(calls.append, 10, clock=t.clock, wait=t.wait, alive=lambda: False).run() == 0
    assert calls == []


def _start_collector(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "collector.log"
    env = {
        **os.environ,
        "docker_sock": str(tmp_path / "no-engine.sock"),  # nothing listens: the loop backs off
        "stats_db": str(tmp_path / "stats.sqlite3"),
        "stats_interval": "1",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dockerlink.collector"], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    return proc, log


def _wait_for(log: Path, text: str, proc: subprocess.Popen) -> None:
    def logged() -> bool:
        assert proc.poll() is None, log.read_text()  # the collector ended: its log says why
        return text in log.read_text()

    until(logged, f"{text!r} in the collector's log")


def test_sigterm_stops_the_collector_cleanly(tmp_path):
    proc, log = _start_collector(tmp_path)
    try:
        _wait_for(log, "unreachable", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "collector stopped" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_second_collector_on_the_same_database_waits_for_the_lock(tmp_path):
    with open(tmp_path / "stats.sqlite3.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the first collector
        proc, log = _start_collector(tmp_path)
        try:
            _wait_for(log, "another collector holds", proc)
            assert "collecting every" not in log.read_text()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("interval", [10.0, 0.5])
def test_ticks_never_repeat_even_when_a_round_ends_exactly_on_one(interval):
    ticks, _ = drive(0.0, interval, [interval, interval, 0.0])
    assert len(set(ticks)) == 3 and ticks == sorted(ticks)


def test_prepare_runs_ahead_of_every_round_and_a_failure_there_costs_nothing(caplog):
    t = FakeTime(1003.2, 3)
    events: list[tuple[str, float]] = []

    def round_(tick: float) -> None:
        events.append(("round", t.now))
        t.rounds_left -= 1
        t.now += 0.3

    def prepare() -> None:
        events.append(("prepare", t.now))
        if len(events) == 3:
            raise RuntimeError("engine hiccup")

    with caplog.at_level(logging.ERROR, logger="dockerlink.stats"):
        Loop(round_, 10, clock=t.clock, wait=t.wait, prepare=prepare, prepare_ahead=0.8).run()
    assert events == [
        ("prepare", pytest.approx(1009.2)),
        ("round", 1010),
        ("prepare", pytest.approx(1019.2)),
        ("round", 1020),
        ("prepare", pytest.approx(1029.2)),
        ("round", 1030),
    ]
    assert "preparing the round at 1020 failed" in caplog.text


def test_no_prepare_when_the_round_is_already_closer_than_its_lead():
    t = FakeTime(1009.5, 2)
    events: list[str] = []

    def round_(tick: float) -> None:
        events.append("round")
        t.rounds_left -= 1

    Loop(round_, 10, clock=t.clock, wait=t.wait, prepare=lambda: events.append("prepare"), prepare_ahead=0.8).run()
    assert events == ["round", "prepare", "round"]


def test_a_lead_that_does_not_fit_the_interval_is_refused():
    with pytest.raises(ValueError, match="prepare_ahead"):
        Loop(lambda ts: None, 1.0, wait=lambda s: True, prepare=lambda: None, prepare_ahead=1.0)


def test_the_collectors_store_maps_none_of_the_file(tmp_path, monkeypatch):
    made = []

    class Recorded(runner.StatsStore):
        def __init__(self, *args, **kw) -> None:
            made.append(kw)
            super().__init__(*args, **kw)

    monkeypatch.setattr(runner, "StatsStore", Recorded)
    engine = Engine("tcp://127.0.0.1:9")  # never called: a remote engine, no cgroup source
    job = runner.rounds_job(Config(stats_db=str(tmp_path / "stats.sqlite3")), engine)
    job.close()
    engine.close()
    assert [kw.get("mmap_bytes") for kw in made] == [0]
