"""`Execs.run` reads the exec's stream as it comes: a cap on what it keeps, and a stream that
stops coming is an ExecStalled (the engine is there), not an unreachable engine."""

from __future__ import annotations

import json
import struct
import threading
from types import SimpleNamespace

import pytest

from dockerlink.engine import Engine, ExecStalled
from dockerlink.engine import execs as execs_module

from .fake_server import FakeServer, http_answer

EXEC_ID = "e" * 64


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def raw_stream(body: bytes) -> bytes:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def engine_answering(tmp_path, start_reply, inspect=None):  # noqa: ANN001, ANN201
    def reply(target: str) -> bytes | None:
        if target.endswith("/exec"):
            return http_answer(201, json.dumps({"Id": EXEC_ID}).encode())
        if target.endswith("/start"):
            return start_reply()
        return http_answer(200, json.dumps(inspect or {"ID": EXEC_ID, "Running": False, "ExitCode": 0}).encode())

    return FakeServer(reply, socket_dir=tmp_path)


def test_output_past_max_output_is_cut_there_and_not_read_further(tmp_path):
    body = b"".join(frame(1, b"x" * 65536) for _ in range(64))  # 4 MiB
    with engine_answering(tmp_path, lambda: raw_stream(body)) as server, Engine(server.address) as engine:
        result = engine.execs.run("site", ["git", "log", "-1"], timeout=30, max_output=100_000)
        assert result.truncated and result.exec_id == EXEC_ID
        assert result.stdout == b"x" * 100_000 and result.stderr == b""
        assert result.exit_code == -1  # unknown: not asked (it may still be running)
        assert not any(t.endswith("/json") for t in server.targets)


def test_output_within_max_output_is_whole_with_the_exit_code(tmp_path):
    body = frame(1, b"out\n") + frame(2, b"err\n")
    with engine_answering(tmp_path, lambda: raw_stream(body)) as server, Engine(server.address) as engine:
        result = engine.execs.run("site", ["true"], timeout=30, max_output=8)
    assert (result.stdout, result.stderr, result.truncated, result.exit_code) == (b"out\n", b"err\n", False, 0)


def test_a_stream_silent_past_the_read_timeout_is_a_stalled_exec(tmp_path, monkeypatch):
    monkeypatch.setattr(execs_module, "READ_GRACE", 0.0)
    monkeypatch.setattr(execs_module, "KILL_AFTER", 0)
    release = threading.Event()

    def stall() -> bytes:
        release.wait(10)
        return raw_stream(b"")

    with engine_answering(tmp_path, stall) as server, Engine(server.address) as engine:
        try:
            with pytest.raises(ExecStalled) as info:
                engine.execs.run("site", ["sleep", "60"], timeout=0.5)
        finally:
            release.set()
    assert info.value.exec_id == EXEC_ID


def test_the_streams_read_timeout_outlasts_the_timeout_and_its_kill_grace():
    """Past timeout + KILL_AFTER the in-container `timeout` has acted if it could: only then
    is a silent stream a stalled exec."""
    from contextlib import contextmanager

    from dockerlink.engine.response import Response

    class RecordingTransport:
        timeouts: list = []

        def request(self, method, segments, **kw):  # noqa: ANN001, ANN201
            if segments[-1] == "exec":
                return Response(201, {}, json.dumps({"Id": EXEC_ID}).encode())
            return Response(200, {}, b'{"ExitCode": 0}')

        @contextmanager
        def stream(self, method, segments, *, json=None, timeout=None):  # noqa: ANN001, ANN201
            self.timeouts.append(timeout)
            yield SimpleNamespace(chunks=lambda size: iter([frame(1, b"ok")]))

    transport = RecordingTransport()
    execs_module.Execs(transport).run("site", ["git", "pull"], timeout=120)
    ((connect, read),) = transport.timeouts
    assert read > 120 + execs_module.KILL_AFTER
