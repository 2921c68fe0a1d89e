"""When the event loop may hand a request to a thread: only once the parser will not wait."""

from __future__ import annotations

import pytest

from dockerlink.serving.framing import MAX_HEAD, HeadTooLarge, progress

CAP = 1000
HEAD = b"PUT /v1/container HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    "buf, complete",
    [
        (b"GET /v1/env HTTP/1.1\r\n", False),
        (b"GET /v1/env HTTP/1.1\r\nHost: x\r\n", False),
        (b"GET /v1/env HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (HEAD + b'Content-Length: 5\r\n\r\n{"a"', False),
        (HEAD + b'Content-Length: 5\r\n\r\n{"a"}', True),
        (HEAD + b'content-length:5\r\n\r\n{"a"}', True),
        (HEAD + b"Content-Length: 99999\r\n\r\n" + b"x" * (CAP + 1), True),  # the app refuses it (413)
        (HEAD + b"Content-Length: 99999\r\n\r\n" + b"x" * CAP, False),
        (HEAD + b"Content-Length: nope\r\n\r\n", True),  # gunicorn answers 400 at once
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\n0\r\n\r\n", False),  # "0\r\n\r\n" is data here
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"x" * (CAP + 1), True),
    ],
)
def test_a_request_is_complete_only_when_its_head_and_body_are_in(buf, complete):
    assert progress(buf, CAP).complete is complete


def test_a_client_expecting_100_continue_is_told_to_send_its_body():
    head = HEAD + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    assert progress(head, CAP).expects_continue
    assert not progress(head + b"12345", CAP).expects_continue


def test_a_head_without_end_past_the_limit_is_refused():
    progress(b"GET / HTTP/1.1\r\nX: " + b"y" * (MAX_HEAD - 100), CAP)
    with pytest.raises(HeadTooLarge):
        progress(b"GET / HTTP/1.1\r\nX: " + b"y" * MAX_HEAD, CAP)
