"""Restart and stop through the service act on the real engine: a restart runs a new PID 1,
and a stop's `t` is how long the engine lets PID 1 ignore SIGTERM before it sends SIGKILL."""

from __future__ import annotations

import threading
import time

import pytest

from dockerlink.engine.models import unix_time

from .test_faults import wait_until

#: Start commands after which PID 1 ignores SIGTERM (an ignored signal stays ignored
#: across exec), so only the engine's SIGKILL after `t` seconds stops the container.
IGNORES_SIGTERM = ["trap '' TERM", "exec sleep infinity"]


@pytest.fixture
def started_site(service, unique_name):
    """Create and start a site through the service; `make(root, commands)`; removed after."""
    made: list[str] = []

    def make(root: int, commands: list[str] | None = None) -> str:
        body = {"name": unique_name, "host_port_root": root, "memory": 0.125, "cpulimit": 0.25}
        r = service.request("PUT", "/v1/container", params={"start": "true"}, json={**body, "commands": commands or []})
        assert r.status_code in (200, 201), r.text
        made.append(r.json()["Id"])
        return made[-1]

    yield make
    for cid in made:
        service.request("DELETE", "/v1/container", params={"id": cid, "volumes": "true"})


def _state(engine, cid: str) -> dict:  # noqa: ANN001
    """The engine's own State (StartedAt with nanoseconds, Pid on the host)."""
    return engine.transport.request("GET", ["containers", cid, "json"]).json()["State"]


def _kill_signals(engine, cid: str, since: float) -> list[tuple[str, float]]:  # noqa: ANN001
    """The signals the engine sent the container since `since`, with the engine's times."""
    events = engine.system.events(since, time.time(), {"type": ["container"], "container": [cid], "event": ["kill"]})
    return [(e.attributes.get("signal", ""), e.time) for e in events]


def test_restart_runs_a_new_pid_1_and_moves_started_at(service, engine, started_site):
    cid = started_site(40000)
    before = _state(engine, cid)
    assert before["Running"] and before["Pid"] > 0
    r = service.request("POST", "/v1/container/restart", params={"id": cid, "t": "1"})
    assert r.status_code == 204, r.text
    after = _state(engine, cid)
    assert after["Running"]
    assert after["Pid"] != before["Pid"]
    assert unix_time(after["StartedAt"]) > unix_time(before["StartedAt"])


def test_stop_t_is_how_long_a_pid_1_ignoring_sigterm_gets_before_sigkill(service, engine, started_site):
    cid = started_site(45000, IGNORES_SIGTERM)

    # t=1: SIGTERM changes nothing, the engine's SIGKILL one second later ends it (137).
    since = unix_time(_state(engine, cid)["StartedAt"])  # the engine's clock: only this run's signals
    r = service.request("POST", "/v1/container/stop", params={"id": cid, "t": "1"})
    assert r.status_code == 204, r.text
    state = _state(engine, cid)
    assert (state["Running"], state["ExitCode"]) == (False, 137)
    signals = dict(_kill_signals(engine, cid, since))
    # The engine's own clock: about 1 s between the two, where a dropped t waits its default 10.
    assert signals["9"] - signals["15"] < 5

    # t=30: 1.5 s after the engine sent SIGTERM the container still runs, with no SIGKILL.
    assert service.request("POST", "/v1/container/start", params={"id": cid}).status_code == 204
    since = unix_time(_state(engine, cid)["StartedAt"])
    answer: dict[str, int] = {}
    stopping = threading.Thread(
        target=lambda: answer.update(
            status=service.request("POST", "/v1/container/stop", params={"id": cid, "t": "30"}).status_code
        ),
        daemon=True,
    )
    stopping.start()
    sent = wait_until(lambda: dict(_kill_signals(engine, cid, since)).get("15"), 30, "the engine to send SIGTERM")
    while time.time() < sent + 1.5:
        time.sleep(0.1)
    assert _state(engine, cid)["Running"]
    assert "9" not in dict(_kill_signals(engine, cid, since))
    assert stopping.is_alive()  # the stop call is still waiting on the engine

    # Clean up without waiting out the 30 s: removal kills it, and the stop call returns.
    assert service.request("DELETE", "/v1/container", params={"id": cid, "volumes": "true"}).status_code == 204
    stopping.join(timeout=30)
    assert not stopping.is_alive()
