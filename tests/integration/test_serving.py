"""What the second attack run on the serving layer found (issue 29) and the 408 no test
ever saw (issue 30.7), proved on a real gunicorn with dockerlink's worker.

No timing is asserted: the bounds (10 s, 30 s) only tell "answered" from "hung"."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from .live import is_open, live_service

TOKEN = "serving-test-token-0123456789ab"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANSWERED_WITHIN = 10  # seconds: a liveness bound, not a speed claim
NEGATIVE_CHUNK = b"POST /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n"


@pytest.fixture(scope="module")
def svc(engine, tmp_path_factory):
    with live_service(tmp_path_factory.mktemp("serving"), api_token=TOKEN) as s:
        yield s


def connect(svc) -> socket.socket:  # noqa: ANN001
    host, port = svc.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=ANSWERED_WITHIN)


def read_to_eof(s: socket.socket, timeout: float = ANSWERED_WITHIN) -> bytes:
    """Everything the service sends until it closes (socket.timeout if it never does)."""
    s.settimeout(timeout)
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(s: socket.socket) -> bytes:
    """One whole response by its Content-Length, the connection left open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536) or pytest.fail(f"closed mid-head: {data!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int(fields[b"content-length"])
    while len(body) < length:
        body += s.recv(65536) or pytest.fail("closed mid-body")
    return head + b"\r\n\r\n" + body


def probe_env(svc) -> int:  # noqa: ANN001
    """An authorised GET /v1/env; its status (a hang past the bound fails the test)."""
    return requests.get(f"{svc.url}/v1/env", headers=AUTH, timeout=ANSWERED_WITHIN).status_code


def test_a_negative_chunk_size_is_a_400_and_the_api_answers_meanwhile(svc):
    sockets = [connect(svc) for _ in range(4)]  # as the attack: both workers, twice
    try:
        for s in sockets:
            s.sendall(NEGATIVE_CHUNK)
        answers = [read_to_eof(s) for s in sockets]
        statuses = [probe_env(svc) for _ in range(8)]
    finally:
        for s in sockets:
            s.close()
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"content-type: text/plain" in head.lower() and body == b"400 Bad Request\n"
    assert statuses == [200] * 8


@pytest.mark.parametrize("size", [b"+6", b"0x6", b"6_0", b" 6", b"1" * 17])
def test_a_chunk_size_that_python_would_read_but_http_does_not_is_a_400(svc, size):
    with connect(svc) as s:
        s.sendall(NEGATIVE_CHUNK.replace(b"-6", size) + b"hello!\r\n0\r\n\r\n")
        assert read_to_eof(s).startswith(b"HTTP/1.1 400 ")


def test_a_chunked_body_over_1_mib_is_a_413_before_its_data(svc):
    with connect(svc) as s:
        s.sendall(NEGATIVE_CHUNK.replace(b"-6", b"100001"))  # 1 MiB and a byte, and nothing of it
        assert read_to_eof(s).startswith(b"HTTP/1.1 413 ")


def test_24_connections_trickling_one_byte_chunks_leave_the_api_answering_and_are_read_right(svc):
    body = b'{"name": "bad name!", "host_port_root": 20000, "memory": 1, "cpulimit": 1}'
    head = (
        b"PUT /v1/container HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
    )
    stop = threading.Event()
    sockets = [connect(svc) for _ in range(24)]
    sent = [0] * len(sockets)

    def trickle(i: int, s: socket.socket) -> None:
        s.sendall(head)
        while not stop.is_set() and sent[i] < len(body):
            s.sendall(b"1\r\n" + body[sent[i] : sent[i] + 1] + b"\r\n")
            sent[i] += 1
            time.sleep(0.02)  # one chunk, one segment: one recv on the service's side each

    threads = [threading.Thread(target=trickle, args=(i, s), daemon=True) for i, s in enumerate(sockets)]
    for t in threads:
        t.start()
    statuses = []
    try:
        while any(t.is_alive() for t in threads):
            statuses.append(probe_env(svc))
            time.sleep(0.2)
        for s in sockets:
            s.sendall(b"0\r\n\r\n")
        answers = [read_to_eof(s) for s in sockets]
    finally:
        stop.set()
        for s in sockets:
            s.close()
    assert statuses and set(statuses) == {200}
    for answer in answers:  # the body was framed whole: the application read and refused it
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert answer.rstrip().endswith(b"name: expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 128 characters")


def test_clients_keeping_their_socket_open_after_a_closing_answer_do_not_hold_the_worker(svc):
    sockets = [connect(svc) for _ in range(24)]
    try:
        for s in sockets:
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for s in sockets:  # each answered: the service half-closes and waits for the client
            assert s.recv(20).startswith(b"HTTP/1.1 200 ")
        statuses = [probe_env(svc) for _ in range(3)]
    finally:
        for s in sockets:
            s.close()
    assert statuses == [200] * 3


@pytest.fixture(scope="module")
def short_read(engine, tmp_path_factory):
    """One service with a 2 s `read_timeout` for both stalls (each on its own connection)."""
    with live_service(tmp_path_factory.mktemp("read-timeout"), read_timeout="2") as s:
        yield s


@pytest.mark.parametrize(
    "sent",
    [b"GET /v1/env HTTP/1.1\r\nHost: x\r\n", b"PUT /v1/container HTTP/1.1\r\nContent-Length: 9\r\n\r\n{"],
    ids=["half-a-head", "half-a-body"],
)
def test_a_client_that_stalls_is_answered_408_and_closed_after_read_timeout(short_read, sent):
    with connect(short_read) as s:
        s.sendall(sent)  # and nothing more
        answer = read_to_eof(s, timeout=30)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"content-type: text/plain" in head.lower() and body == b"408 Request Timeout\n"


def test_a_worker_at_its_connection_limit_sheds_the_oldest_idle_connections_and_answers(engine, tmp_path):
    settings = {
        "api_token": TOKEN,
        "read_timeout": "60",  # nothing leaves by its deadline during the test
        "DOCKERLINK_WORKERS": "1",
        "DOCKERLINK_THREADS": "2",
        "GUNICORN_CMD_ARGS": "--worker-connections 10 --keep-alive 60",
    }
    with live_service(tmp_path, **settings) as s:
        kept_alive = connect(s)
        kept_alive.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(kept_alive).startswith(b"HTTP/1.1 200 ")
        # A whole request and answer on another connection: the event loop has gone round
        # since, and filed the first one among its kept-alive connections.
        assert probe_env(s) == 200
        idle = [connect(s) for _ in range(9)]  # with it, the worker's 10: sending nothing
        try:
            assert probe_env(s) == 200  # a new client is answered: the kept-alive one went
            assert read_to_eof(kept_alive) == b""
            assert all(is_open(c) for c in idle)
            idle.append(connect(s))  # the 10 again, all of them sending their request
            assert probe_env(s) == 200  # answered again: the oldest of those went, with a 503
            assert read_to_eof(idle[0]).startswith(b"HTTP/1.1 503 ")
            assert all(is_open(c) for c in idle[-5:])
        finally:
            kept_alive.close()
            for c in idle:
                c.close()
