"""Whether the bytes received so far hold a whole HTTP/1.1 request (pure; no sockets).

The event loop of `worker.BufferingWorker` reads a request into memory with this before any
thread sees it, so a client that sends its request slowly holds a buffer, not a thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_HEAD", "HeadTooLarge", "Progress", "progress"]

#: A request head (request line and headers) larger than this is refused (431).
MAX_HEAD = 64 * 1024

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\S*)[ \t]*\r?$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*\bchunked\b", re.I | re.M)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r?$", re.I | re.M)


class HeadTooLarge(ValueError):
    """No end of the request head within MAX_HEAD bytes."""


@dataclass(frozen=True)
class Progress:
    complete: bool  # hand it to a thread: the parser will not wait on the client
    expects_continue: bool = False  # the head asks for "100 Continue" before the body


def progress(buf: bytes, body_cap: int) -> Progress:
    """How far `buf` (the start of a connection's next request) has come.

    Complete once the head and the body are in: `Content-Length` bytes, or every chunk and
    the trailer; or once `body_cap` bytes of body are in (the application refuses a larger
    one by itself), or when the head is malformed (gunicorn's parser answers it at once).
    """
    end = buf.find(_HEAD_END)
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise HeadTooLarge(f"request head over {MAX_HEAD} bytes")
        return Progress(False)
    head, body = buf[:end], buf[end + len(_HEAD_END) :]
    expects = bool(_EXPECT_CONTINUE.search(head))
    if _CHUNKED.search(head):
        done = len(body) > body_cap or _chunks_complete(body)
        return Progress(done, expects and not done)
    m = _CONTENT_LENGTH.search(head)
    if m is None:
        return Progress(True)
    if not m[1].isdigit():
        return Progress(True)  # malformed: gunicorn answers 400 without reading on
    done = len(body) >= min(int(m[1]), body_cap + 1)
    return Progress(done, expects and not done)


def _chunks_complete(body: bytes) -> bool:
    """Every chunk, the last (size 0) one and the (possibly empty) trailer are in."""
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return False
        size_field = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return True  # malformed: let the parser answer it
        if size == 0:
            return body.find(b"\r\n\r\n", eol) >= 0  # the last chunk's line end, trailers, a blank line
        pos = eol + 2 + size + 2
        if pos > len(body):
            return False
