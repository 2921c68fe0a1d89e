"""What an attack run on the real service found (issue 12), proved on gunicorn itself:
slow clients, gunicorn's own error pages, chunked bodies, a token in the query string."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
import requests

from .live import is_open, live_service

TOKEN = "hardening-test-token-0123456789"
SLOW_CLIENTS = 60
#: Five trickles of every slow connection: starved threads show from the first probes on
#: (plain gthread timed out at once); the 408 at `read_timeout` is test_serving.py's to prove.
ATTACK_SECONDS = 10
LIVENESS_BOUND = 1.0  # seconds: not a speed claim, the bound past which the API is "stopped"


@pytest.fixture(scope="module")
def svc(engine, tmp_path_factory):
    with live_service(tmp_path_factory.mktemp("hardening"), api_token=TOKEN, stats_interval="5") as s:
        yield s


def raw(svc, data: bytes) -> bytes:  # noqa: ANN001
    """Send `data` on a fresh connection; everything the service answers before closing."""
    host, port = svc.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_60_slow_clients_for_10_s_never_keep_an_authorised_request_waiting_past_1_s(svc):
    host, port = svc.url.removeprefix("http://").split(":")
    stop = threading.Event()
    sockets: list[socket.socket] = []
    for i in range(SLOW_CLIENTS):
        s = socket.create_connection((host, int(port)), timeout=5)
        if i % 3 == 0:  # a slow body: one byte every 2 s, after a prompt head
            s.sendall(b"PUT /v1/container HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        elif i % 3 == 1:  # pipelined: a whole request, then the next one slowly
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/env HTTP/1.1\r\nHost: x\r\n")
        else:  # slow headers: one line every 2 s
            s.sendall(b"GET /v1/env HTTP/1.1\r\nHost: x\r\n")
        sockets.append(s)

    def trickle() -> None:
        n = 0
        while not stop.wait(2.0):
            n += 1
            for i, s in enumerate(sockets):
                try:
                    s.sendall(f"X-Slow-{n}: y\r\n".encode() if i % 3 else b" ")
                except OSError:
                    pass

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    waits: list[float] = []
    try:
        end = time.monotonic() + ATTACK_SECONDS
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                r = requests.get(
                    f"{svc.url}/v1/env", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=LIVENESS_BOUND * 3
                )
                assert r.status_code == 200
                waits.append(time.monotonic() - started)
            except requests.Timeout:
                waits.append(float("inf"))
            time.sleep(0.2)
        # The attack was on all along: the slow connections are still open, not refused.
        still_open = sum(1 for s in sockets if is_open(s))
    finally:
        stop.set()
        feeder.join()
        for s in sockets:
            s.close()
    assert max(waits) < LIVENESS_BOUND, sorted(waits)[-5:]
    assert len(waits) > 20
    assert still_open == SLOW_CLIENTS


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"NOT A REQUEST<script>\r\n\r\n", 400),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(120)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 70000 + b"\r\n\r\n", 431),
    ],
    ids=["garbage", "long-request-line", "too-many-headers", "huge-head"],
)
def test_gunicorns_own_error_answers_are_one_plain_text_line_without_the_request(svc, request_bytes, status):
    answer = raw(svc, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), head
    assert b"content-type: text/plain" in head.lower()
    assert body.count(b"\n") == 1 and b"<" not in body and b"aaaa" not in body and b"script" not in body


def test_a_chunked_body_is_read(svc):
    body = b'{"name": "bad name!", "host_port_root": 20000, "memory": 1, "cpulimit": 1}'
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    answer = raw(
        svc,
        b"PUT /v1/container HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        + chunked,
    )
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.rstrip().endswith(b"name: expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 128 characters")


def test_a_token_sent_in_the_query_string_is_not_in_the_access_log(svc):
    for params in ({"access_token": TOKEN}, {"token": "another-secret-value", "x": TOKEN}):
        svc.get("/v1/env", params=params)
    svc.get("/v1/env", params={"marker": "after-the-tokens"})
    log = _wait_for(lambda: "after-the-tokens" in (text := svc.log.read_text()) and text)
    assert "/v1/env?access_token=[redacted]" in log
    assert TOKEN not in log and "another-secret-value" not in log


def _wait_for(read, seconds: float = 10):  # noqa: ANN001, ANN202
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if value := read():
            return value
        time.sleep(0.1)
    pytest.fail("gave up waiting for the access log")


def test_health_turns_503_degraded_while_the_collector_is_stopped_and_ok_again_after(engine, tmp_path):
    from .test_faults import collector_pid, wait_until

    with live_service(tmp_path, stats_interval="1") as s:
        wait_until(lambda: s.get("/v1/health").json()["last_sample_age"] is not None, 30, "a first sample")
        pid = wait_until(lambda: collector_pid(s), 10, "the collector process")
        os.kill(pid, signal.SIGSTOP)  # hung: alive, but sampling nothing
        try:
            # (a Response with a 503 is falsy: wait on its body)
            body = wait_until(
                lambda: (r := s.get("/v1/health")).status_code == 503 and r.json(), 30, "health to see it"
            )
            assert body["status"] == "degraded" and "stopped or hung" in body["reasons"][0]
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_until(lambda: s.get("/v1/health").status_code == 200, 30, "health to be ok again")
