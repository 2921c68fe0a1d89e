"""The background process's supervision: a job that dies is reported by name (and /v1/health
says degraded) and started again after the one back-off; the stop flag ends every job."""

from __future__ import annotations

import threading

from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.collector.process import StopFlag
from dockerlink.collector.status import read_status, status_file
from dockerlink.collector.supervision import Supervision
from dockerlink.config import Config
from dockerlink.jobs import Job, backoff
from dockerlink.stats.store import StatsStore
from tests.fakes import FakeEngine
from tests.waiting import until


def _forever(wait) -> None:  # noqa: ANN001
    while not wait(10.0):
        pass


def test_the_one_backoff_doubles_from_its_first_delay_up_to_its_cap():
    assert [backoff(n) for n in range(8)] == [0, 1, 2, 4, 8, 16, 32, 60]
    assert [backoff(n, 10.0, 60.0) for n in (1, 2, 3, 4)] == [10, 20, 40, 60]
    assert backoff(40, 1.0, 3600.0) == 3600


def test_a_job_that_dies_is_reported_dead_by_name_and_health_says_degraded(tmp_path):
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"))
    stop = StopFlag()
    release = threading.Event()

    def dies(wait) -> None:  # noqa: ANN001
        raise RuntimeError("disk on fire")

    def waits_for_release(wait) -> None:  # noqa: ANN001
        release.wait(20)

    sup = Supervision(
        [Job("healthy", _forever), Job("doomed", dies), Job("quits", waits_for_release)],
        stop.wait,
        status=status_file(config.stats_db),
        first_delay=30.0,  # it stays dead while the test looks
    )
    client = TestClient(create_app(config, engine=FakeEngine(), store=StatsStore(config.stats_db)))
    sup.start()
    try:
        until(
            lambda: read_status(status_file(config.stats_db)).get("doomed", {}).get("state") == "dead",
            "the doomed job is reported dead in the status file",
        )
        health = client.simulate_get("/v1/health")
        assert health.status_code == 503
        assert health.json["status"] == "degraded"
        assert health.json["jobs"]["doomed"] == {"state": "dead", "restarts": 0, "error": "RuntimeError: disk on fire"}
        assert health.json["jobs"]["healthy"] == {"state": "running", "restarts": 0}
        assert [r for r in health.json["reasons"] if "doomed" in r] == [
            "collector job doomed died (RuntimeError: disk on fire); starting it again with back-off"
        ]
        assert not any("healthy" in r for r in health.json["reasons"])
        release.set()  # a job that ends by itself is as dead as one that raised
        until(lambda: sup.states()["quits"]["state"] == "dead", "the job that ended is reported dead")
        assert sup.states()["quits"]["error"] == "ended by itself"
    finally:
        stop.set()
        assert sup.join(20) == []
    health = client.simulate_get("/v1/health").json
    assert {name: job["state"] for name, job in health["jobs"].items()} == {
        "healthy": "stopped",
        "doomed": "stopped",
        "quits": "stopped",
    }
    assert not any("collector job" in r for r in health["reasons"])


def test_a_dead_job_is_started_again_after_the_backoff_doubling_each_time():
    asked: list[float] = []
    runs: list[int] = []
    stopping = threading.Event()

    def wait(seconds: float) -> bool:  # the supervision's waits, recorded, never slept
        if seconds > 0:
            asked.append(seconds)
            if len(asked) == 5:
                stopping.set()
        return stopping.is_set()

    def dies(_wait) -> None:  # noqa: ANN001
        runs.append(1)
        raise OSError("engine gone")

    sup = Supervision([Job("flaky", dies)], wait, first_delay=1.0, max_delay=8.0)
    sup.start()
    assert sup.join(20) == []
    assert asked == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(runs) == 5
    assert sup.states()["flaky"] == {"state": "stopped", "restarts": 4, "error": "OSError: engine gone"}


def test_a_job_that_stayed_up_long_enough_starts_its_backoff_afresh():
    now = [0.0]
    asked: list[float] = []
    stopping = threading.Event()

    def wait(seconds: float) -> bool:
        if seconds > 0:
            asked.append(seconds)
            stopping.set() if len(asked) == 3 else None
        return stopping.is_set()

    def dies(_wait) -> None:  # noqa: ANN001
        now[0] += 100.0 if len(asked) == 1 else 0.0  # the second run lasts past STEADY
        raise RuntimeError("boom")

    sup = Supervision([Job("j", dies)], wait, clock=lambda: now[0])
    sup.start()
    assert sup.join(20) == []
    assert asked == [1.0, 1.0, 2.0]


def test_the_stop_flag_stops_every_job_and_a_once_job_is_done_not_dead():
    stop = StopFlag()
    sup = Supervision(
        [Job("a", _forever), Job("b", _forever), Job("c", _forever), Job("once", lambda wait: None, once=True)],
        stop.wait,
    )
    sup.start()
    until(
        lambda: [s["state"] for s in sup.states().values()] == ["running", "running", "running", "done"],
        "three jobs running and the once job done",
    )
    stop.set()
    assert sup.join(20) == []
    assert {name: s["state"] for name, s in sup.states().items()} == {
        "a": "stopped",
        "b": "stopped",
        "c": "stopped",
        "once": "done",
    }


def test_closing_releases_what_each_ended_job_holds():
    stop = StopFlag()
    closed: list[str] = []
    sup = Supervision([Job("a", _forever, close=lambda: closed.append("a"))], stop.wait)
    sup.start()
    stop.set()
    assert sup.join(20) == []
    sup.close()
    assert closed == ["a"]


def test_a_stop_waits_for_every_job_but_one_left_at_exit_blocked_in_a_read():
    """The event follower holds the engine's stream open for a whole window: the process's
    stop (and so every service stop) does not wait that out; every other job is waited for."""
    stop = StopFlag()
    reading = threading.Event()  # never set: a read the engine never answers
    ending = threading.Event()

    def slow_to_end(wait) -> None:  # noqa: ANN001
        while not wait(10.0):
            pass
        ending.wait(0.3)  # a job finishing its work after the stop: waited for

    sup = Supervision(
        [Job("blocked", lambda wait: reading.wait(60), left_at_exit=True), Job("writer", slow_to_end)], stop.wait
    )
    sup.start()
    until(lambda: [s["state"] for s in sup.states().values()] == ["running", "running"], "both jobs running")
    stop.set()
    assert sup.join(20) == []  # not 20 s and ["blocked"]: the read was not waited for
    assert sup.states()["writer"]["state"] == "stopped"  # its end was
    assert sup.states()["blocked"]["state"] == "running"
