"""The fan-out (many GETs at once from one thread) against a stand-in server on a socket."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from dockerlink.engine import Engine
from dockerlink.engine.errors import (
    AmbiguousReference,
    EngineUnavailable,
    InvalidReference,
    NotFound,
    ServerError,
)
from dockerlink.engine.fanout import get_all
from dockerlink.engine.models import StatsSnapshot

from .fake_server import FakeServer, free_unix_path, http_answer
from .recorded import load

OK = http_answer(200, b'{"ok": true}')


def test_every_request_is_in_flight_together():
    """The server answers nobody until all have arrived: one call at a time would never finish."""
    n = 40
    barrier = threading.Barrier(n, timeout=10)

    def reply(target: str) -> bytes:
        barrier.wait()
        return http_answer(200, json.dumps({"target": target}).encode())

    with FakeServer(reply) as server:
        targets = [f"/v1.41/containers/{i:064x}/stats" for i in range(n)]
        answers = get_all(server.address, targets, timeout=20)
    assert [a.json()["target"] for a in answers] == targets  # in the order asked, whatever order they came in
    assert not barrier.broken


def test_each_answer_is_its_result_or_its_error_in_order(tmp_path):
    answers = {
        "/a": http_answer(200, b'{"n": 1}'),
        "/missing": http_answer(404, b'{"message": "No such container: x"}'),
        "/ambiguous": http_answer(500, load("container_inspect_ambiguous").body),
        "/moved": http_answer(301, b"", {"Location": "/v1.41/containers/other/json"}),
        "/b": http_answer(200, b'{"n": 2}', chunked=True),
    }
    with FakeServer(lambda t: answers[t], tmp_path) as server:
        results = get_all(server.address, list(answers), timeout=10)
        assert server.targets.count("/v1.41/containers/other/json") == 0  # a redirect is never followed
    a, missing, ambiguous, moved, b = results
    assert a.json() == {"n": 1}
    assert isinstance(missing, NotFound) and missing.status == 404
    assert isinstance(ambiguous, AmbiguousReference)
    assert isinstance(moved, ServerError) and "redirect" in str(moved)
    assert b.json() == {"n": 2}  # a chunked body is joined


def test_requests_say_connection_close_and_name_the_host(tmp_path):
    with FakeServer(lambda t: OK, tmp_path) as server:
        get_all(server.address, ["/x"])
        [(method, target, headers)] = server.requests
    assert (method, target) == ("GET", "/x")
    assert "Connection: close" in headers
    assert "Host: localhost" in headers


def test_an_answer_cut_short_is_an_unavailable_engine_not_a_crash(tmp_path):
    with FakeServer(lambda t: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{", tmp_path) as server:
        [result] = get_all(server.address, ["/x"])
    assert isinstance(result, EngineUnavailable)
    assert "incomplete" in str(result)


def test_a_connection_closed_without_an_answer_is_an_unavailable_engine(tmp_path):
    with FakeServer(lambda t: None, tmp_path) as server:
        [result] = get_all(server.address, ["/x"])
    assert isinstance(result, EngineUnavailable)


def test_calls_still_unanswered_at_the_deadline_time_out(tmp_path):
    release = threading.Event()

    def reply(target: str) -> bytes | None:
        if target == "/slow":
            release.wait(10)
        return OK

    with FakeServer(reply, tmp_path) as server:
        fast, slow = get_all(server.address, ["/fast", "/slow"], timeout=0.5)
        release.set()
    assert fast.json() == {"ok": True}
    assert isinstance(slow, EngineUnavailable)
    assert "did not answer in time" in str(slow)


def test_no_engine_listening_makes_every_call_unavailable(tmp_path):
    results = get_all(free_unix_path(tmp_path), ["/a", "/b"], timeout=2)
    assert [type(r) for r in results] == [EngineUnavailable, EngineUnavailable]
    assert "unreachable" in str(results[0])


def test_no_more_sockets_open_than_allowed_and_all_answered(tmp_path):
    gate = threading.Semaphore(0)

    def reply(target: str) -> bytes:
        gate.release()
        return OK

    with FakeServer(reply, tmp_path) as server:
        results = get_all(server.address, [f"/{i}" for i in range(9)], max_open=2)
        most = server.most_open
    assert all(r.json() == {"ok": True} for r in results)
    assert 1 <= most <= 2


def test_a_tcp_engine_is_reached_too():
    with FakeServer(lambda t: OK) as server:
        [result] = get_all(server.address, ["/x"])
        [(_, _, headers)] = server.requests
    assert result.json() == {"ok": True}
    assert f"Host: {server.address.removeprefix('tcp://')}" in headers


# --- through the engine client -----------------------------------------------------------

RUNNING = "a42d519714d616e9411dbceec4b52808bd6b1ee53e6f6497a281d655357d8b71"  # the recorded container


def test_stats_many_parses_recorded_answers_and_inspects_in_the_same_fan_out(tmp_path):
    stats, inspect = load("container_stats_running"), load("container_inspect_running")
    gone = "e" * 64

    def reply(target: str) -> bytes:
        if gone in target:
            return http_answer(404, b'{"message": "No such container: eee"}')
        if target == inspect.path:
            return http_answer(200, inspect.body)
        return http_answer(200, stats.body)

    with FakeServer(reply, tmp_path) as server, Engine(server.address) as engine:
        snapshots, details = engine.containers.stats_many([RUNNING, gone], inspect=[RUNNING])
        targets = sorted(server.targets)
    assert snapshots[0] == StatsSnapshot.from_api(stats.json())
    assert isinstance(snapshots[1], NotFound)
    assert details[0].id == RUNNING and details[0].running
    assert targets == sorted(
        [
            f"/v1.41/containers/{RUNNING}/stats?stream=false&one-shot=true",
            f"/v1.41/containers/{gone}/stats?stream=false&one-shot=true",
            f"/v1.41/containers/{RUNNING}/json",
        ]
    )


@pytest.mark.parametrize("ref", ["../../x", "a/b", "", "-rf"])
def test_stats_many_refuses_a_bad_reference_without_sending_it(tmp_path, ref):
    with FakeServer(lambda t: http_answer(200, load("container_stats_running").body), tmp_path) as server:
        with Engine(server.address) as engine:
            [bad, good], [] = engine.containers.stats_many([ref, RUNNING])
        assert len(server.targets) == 1
    assert isinstance(bad, InvalidReference)
    assert isinstance(good, StatsSnapshot)


def test_a_tcp_engine_refusing_connections_makes_every_call_unavailable():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now
    results = get_all(f"tcp://127.0.0.1:{port}", ["/a", "/b"], timeout=5)
    assert [type(r) for r in results] == [EngineUnavailable, EngineUnavailable]
    assert "unreachable" in str(results[0])


def test_a_tcp_engine_host_name_is_resolved_once_for_all_the_calls(monkeypatch):
    lookups = []
    real = socket.getaddrinfo

    def counted(*args, **kwargs):
        lookups.append(args[:2])
        return real(*args, **kwargs)

    with FakeServer(lambda t: OK) as server:
        address = server.address.replace("127.0.0.1", "localhost")
        monkeypatch.setattr(socket, "getaddrinfo", counted)
        results = get_all(address, [f"/{i}" for i in range(5)])
        monkeypatch.undo()
        hosts = {h for _, _, headers in server.requests for h in headers if h.startswith("Host:")}
    assert all(r.json() == {"ok": True} for r in results)
    assert lookups == [("localhost", int(address.rsplit(":", 1)[1]))]
    assert hosts == {f"Host: {address.removeprefix('tcp://')}"}


def test_a_host_name_that_does_not_resolve_makes_every_call_unavailable(monkeypatch):
    def unknown(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    results = get_all("tcp://no-such-engine.invalid:2375", ["/a", "/b"], timeout=2)
    assert [type(r) for r in results] == [EngineUnavailable, EngineUnavailable]
    assert str(results[0]) == "the Docker engine at no-such-engine.invalid:2375 is unreachable"
