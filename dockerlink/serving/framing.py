"""Whether the bytes received so far hold a whole HTTP/1.1 request (pure; no sockets).

The event loop of `worker.BufferingWorker` reads a request into memory with a `Framer`
before any thread sees it, so a client that sends its request slowly holds a buffer, not a
thread. The framer is incremental: each `feed` looks only at what it has not looked at
yet (where the head's end may start, where the next chunk line starts), so a body sent a
byte at a time costs the event loop in proportion to its bytes, not their square
(issue 29, item 2). Its positions only ever move forward: a chunk size is 1 to 16 hex
digits, nothing else, so no input can send the scan back or keep it in place (item 1).

A chunked body, once whole, is handed on de-chunked, with a Content-Length (`request`):
gunicorn's chunk parser copies what remains of its buffer at every chunk, so 1 MiB of
one-byte chunks handed to it whole kept a thread busy for minutes. Only one framing is
let through: one `Transfer-Encoding: chunked` line and no Content-Length, or no
Transfer-Encoding at all (RFC 9112 §6.3); anything else is a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_CHUNK_LINE",
    "MAX_HEAD",
    "BadFraming",
    "BodyTooLarge",
    "Framer",
    "HeadTooLarge",
    "Progress",
    "Refused",
    "progress",
]

#: A request head (request line and headers) larger than this is refused (431).
MAX_HEAD = 64 * 1024
#: A chunk-size line (size and extensions) longer than this is refused (400): gunicorn's
#: own limit for that line.
MAX_CHUNK_LINE = 8190

_CRLF = b"\r\n"
_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\S*)[ \t]*\r?$", re.I | re.M)
_ANY_TE = re.compile(rb"^[ \t]*transfer-encoding[ \t]*:", re.I | re.M)
_ANY_CL = re.compile(rb"^[ \t]*content-length[ \t]*:", re.I | re.M)
_CHUNKED = re.compile(rb"transfer-encoding:[ \t]*chunked[ \t]*", re.I)  # a whole head line
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r?$", re.I | re.M)
# RFC 9112 §7.1: chunk-size = 1*HEXDIG, then chunk extensions (";" name[=value]) after
# optional blanks. No sign, no "0x", no "_", no blank before the size: what int(x, 16)
# would also take is refused here. Extensions are skipped, whatever they hold but CR and LF:
# the body is handed on de-chunked, so nothing reads them.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\r\n]*)?")


class Refused(ValueError):
    """A request the event loop answers itself (status by class, in the worker) and closes."""


class HeadTooLarge(Refused):
    """No end of the request head within MAX_HEAD bytes."""


class BadFraming(Refused):
    """A body whose length cannot be told for sure: a Transfer-Encoding other than one
    `chunked` line, one beside a Content-Length, a malformed chunk-size line, chunk data
    not followed by CRLF. The request is answered 400 and the connection closed."""


class BodyTooLarge(Refused):
    """A chunked body past the cap (answer 413; a Content-Length one the application
    refuses by itself)."""


@dataclass(frozen=True)
class Progress:
    complete: bool  # hand it to a thread: the parser will not wait on the client
    expects_continue: bool = False  # the head asks for "100 Continue" before the body


class Framer:
    """One request's bytes as they arrive: `feed` each `recv` in, read `buf` once complete.

    Complete once the head and the body are in: `Content-Length` bytes, or every chunk and
    the trailer; or once `body_cap` bytes of a Content-Length body are in (the application
    refuses a larger one by itself), or when the head is malformed (gunicorn's parser
    answers it at once). A chunked body over `body_cap` is refused here (BodyTooLarge).
    """

    def __init__(self, body_cap: int) -> None:
        self.buf = bytearray()
        self._cap = body_cap
        self._searched = 0  # the head's end is not before this (less the 3 bytes it may straddle)
        self._body = -1  # where the body starts, once the head is in
        self._length: int | None = None  # the body's length by Content-Length
        self._chunked = False
        self._expects = False
        self._pos = 0  # chunked: where the next chunk-size line (or trailer line) starts
        self._scan = 0  # chunked: that line's CRLF is not before this
        self._data_end = -1  # chunked: the CRLF due here ends the chunk data before _pos
        self._last = False  # chunked: the last chunk is in; only trailer lines are left
        self._done = False
        self._te_line = -1  # chunked: which line of the head is Transfer-Encoding
        self._data: list[tuple[int, int]] = []  # chunked: where each chunk's data is in buf
        self._end = -1  # chunked: where the request ends (after its trailer)
        self._size = 0  # chunked: the body's length so far

    @property
    def position(self) -> int:
        """How far the framer has read `buf` for good (never decreases)."""
        return self._pos if self._body >= 0 else self._searched

    def feed(self, data: bytes) -> Progress:
        """Take `data` (the next bytes of the connection) and say how far the request is.

        Raises HeadTooLarge (answer 431), BadFraming (400) or BodyTooLarge (413)."""
        self.buf += data
        if not self._done:
            self._done = self._advance()
        return Progress(self._done, self._expects and not self._done)

    def _advance(self) -> bool:
        if self._body < 0 and not self._read_head():
            return False
        if self._chunked:
            if self._read_chunks():
                return True
            if len(self.buf) - self._body > 2 * self._cap:  # what chunk lines add: as much again
                raise BodyTooLarge(f"chunked body over {2 * self._cap} bytes with its chunk lines")
            return False
        if self._length is None:
            return True
        return len(self.buf) - self._body >= min(self._length, self._cap + 1)

    def _read_head(self) -> bool:
        end = self.buf.find(_HEAD_END, max(0, self._searched - len(_HEAD_END) + 1))
        if end < 0:
            self._searched = len(self.buf)
            if len(self.buf) > MAX_HEAD:
                raise HeadTooLarge(f"request head over {MAX_HEAD} bytes")
            return False
        head = bytes(self.buf[:end])
        self._body = self._pos = self._searched = end + len(_HEAD_END)
        self._expects = bool(_EXPECT_CONTINUE.search(head))
        if _ANY_TE.search(head):
            chunked = [i for i, line in enumerate(head.split(_CRLF)) if _CHUNKED.fullmatch(line)]
            if len(_ANY_TE.findall(head)) != 1 or len(chunked) != 1 or _ANY_CL.search(head):
                raise BadFraming("a Transfer-Encoding other than one chunked line alone")
            self._chunked, self._te_line = True, chunked[0]
        elif (m := _CONTENT_LENGTH.search(head)) is not None:
            # malformed: no length, so complete; gunicorn answers 400 without reading on
            self._length = int(m[1]) if m[1].isdigit() else None
        return True

    def _read_chunks(self) -> bool:
        """Move `_pos` over every whole chunk (or trailer line) in; True at the blank line
        that ends the trailer. Each turn moves `_pos` forward by at least 2 bytes."""
        while True:
            if self._data_end >= 0:
                if len(self.buf) < self._data_end + 2:
                    return False
                if self.buf[self._data_end : self._data_end + 2] != _CRLF:
                    raise BadFraming("chunk data not followed by CRLF")
                self._pos, self._data_end = self._data_end + 2, -1
            eol = self.buf.find(_CRLF, max(self._pos, self._scan))
            if eol < 0:
                if len(self.buf) - self._pos > MAX_CHUNK_LINE:
                    raise BadFraming(f"line of a chunked body over {MAX_CHUNK_LINE} bytes")
                self._scan = len(self.buf) - 1  # a CR last may start the CRLF
                return False
            if self._last:  # a trailer field, or the blank line that ends them
                if eol == self._pos:
                    self._end = eol + 2
                    return True
                self._pos = eol + 2
                continue
            m = _CHUNK_SIZE.fullmatch(self.buf, self._pos, eol)
            if m is None or eol - self._pos > MAX_CHUNK_LINE:
                raise BadFraming("malformed chunk size")
            size = int(m[1], 16)
            self._pos = eol + 2
            if size == 0:
                self._last = True
            else:
                self._data_end = self._pos + size
                self._data.append((self._pos, self._data_end))
                self._size += size
                if self._size > self._cap:
                    raise BodyTooLarge(f"chunked body over {self._cap} bytes")

    def request(self) -> bytes:
        """The request as the parser is to read it (and what the client sent after it): a
        whole chunked body de-chunked, its Transfer-Encoding line a Content-Length one,
        the trailer dropped; any other request as it came."""
        if self._end < 0:
            return bytes(self.buf)
        lines = bytes(self.buf[: self._body - len(_HEAD_END)]).split(_CRLF)
        body = b"".join(self.buf[start:end] for start, end in self._data)
        lines[self._te_line] = b"Content-Length: %d" % len(body)
        return _CRLF.join(lines) + _HEAD_END + body + bytes(self.buf[self._end :])


def progress(buf: bytes, body_cap: int) -> Progress:
    """How far `buf` (the start of a connection's next request) has come, read at once."""
    return Framer(body_cap).feed(buf)
