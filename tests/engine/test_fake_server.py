"""The fake dockerd answers only once it has the whole request, as dockerd does; else a body
still unread when it closes the socket resets the connection, and the client loses the end
of the answer (test_exec_stream failed so, now and then, under load)."""

from __future__ import annotations

import socket

import pytest

from tests.waiting import until

from .fake_server import FakeServer, http_answer


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        ("Content-Length: 17", b'{"Detach": false}'),
        ("Transfer-Encoding: chunked", b'11\r\n{"Detach": false}\r\n0\r\n\r\n'),
    ],
)
def test_a_body_sent_after_the_head_was_taken_is_read_before_the_answer(tmp_path, framing, body):
    answer = http_answer(200, b"x" * 100_000)
    with FakeServer(lambda target: answer, socket_dir=tmp_path) as server:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(30)
            client.connect(server.address.removeprefix("unix://"))
            client.sendall(f"POST /v1.41/exec/e/start HTTP/1.1\r\nHost: d\r\n{framing}\r\n\r\n".encode())
            until(lambda: server.targets, "the fake server to take the head")  # the body comes only now
            client.sendall(body)
            received = b""
            while chunk := client.recv(65536):
                received += chunk
    assert received == answer
