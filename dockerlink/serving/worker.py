"""`BufferingWorker`: gunicorn's gthread worker, except that no thread waits on a client.

gthread hands a connection to a thread as soon as its first byte arrives; the thread then
blocks until the whole request is in. Sixteen clients sending a header line every few
seconds (or a body a byte at a time) so held every thread of 2 workers × 8, and the API
stopped answering anyone (issue 12, item 3). Here the worker's event loop reads each
request — head, and body up to the 1 MiB cap — into memory first, non-blocking, with a
deadline (the `read_timeout` setting; 408 past it), and only a complete request reaches a
thread. A slow client then costs a socket and a buffer; the threads serve whoever is
ready. Kept-alive connections go through the same reading. What the framer refuses (a
malformed chunked body, a chunked one over the cap, a head too large) is answered by the
event loop itself, and the connection closed; a chunked body reaches the parser de-chunked.

A worker holds at most gunicorn's `worker_connections` sockets; gthread then stops
accepting and new clients wait in the listen backlog, unanswered, until one closes (2500
idle connections stopped the API, issue 29 item 3). Here a worker at its limit keeps
accepting and sheds a connection for each new one: the oldest idle kept-alive one first,
else the oldest one still sending its request (503). Only connections being served by a
thread are never shed.

Also: gunicorn's own error answers (400, 414, 431, … for requests its parser refuses) are
`text/plain` one-liners like the application's, not an HTML page echoing the request.
"""

from __future__ import annotations

import errno
import io
import selectors
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial

from gunicorn import http, util
from gunicorn.workers.gthread import TConn, ThreadWorker

from ..config import Config
from ..resources.params import MAX_BODY
from .framing import BadFraming, BodyTooLarge, Framer, HeadTooLarge, Refused

__all__ = ["BufferingWorker", "write_plain_error"]

#: Bytes read from one connection per turn (gunicorn's own size): what one readable
#: connection can cost the event loop before the others (and new clients) get their turn.
#: 64 KiB of one-byte chunks took ~45 ms to frame; 24 such connections slowed /v1/env to
#: seconds.
_RECV = 8192
#: Seconds, and bytes, a connection closed after its answer is drained for (RFC 9112 §9.6:
#: closing with unread bytes would reset it and could cut the answer), as gunicorn's.
_LINGER = 2.0
_LINGER_BYTES = 65536
_REFUSALS: dict[type[Refused], tuple[int, str]] = {
    HeadTooLarge: (431, "Request Header Fields Too Large"),
    BadFraming: (400, "Bad Request"),
    BodyTooLarge: (413, "Content Too Large"),
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def write_plain_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error answer as one text/plain line (the message, never the request, in it)."""
    body = f"{status_int} {reason}\n".encode("latin-1", "replace")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1", "replace")
    util.write_nonblock(sock, head + body)


def _recv(sock: socket.socket) -> bytes | None:
    """The next bytes of a non-blocking socket: None if none yet, b"" at its end."""
    try:
        return sock.recv(_RECV)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


@dataclass
class _Reading:
    conn: TConn
    deadline: float
    framer: Framer = field(default_factory=lambda: Framer(MAX_BODY))
    continued: bool = False


@dataclass
class _Closing:
    conn: TConn
    deadline: float
    drained: int = 0


class BufferingWorker(ThreadWorker):
    """gthread with requests read whole by the event loop before a thread takes them."""

    def init_process(self) -> None:
        # Seconds a client has to send a whole request (head and body) once it has connected,
        # or once a kept-alive connection shows a new request; past it: 408, and closed.
        self._read_timeout = Config.from_env().read_timeout
        self._reading: deque[_Reading] = deque()  # in deadline order (one fixed timeout)
        self._closing: deque[_Closing] = deque()  # likewise
        util.write_error = write_plain_error  # the base worker's handle_error writes through it
        super().init_process()

    # -- where gthread would hand a connection to a thread --------------------------------

    def accept(self, listener: socket.socket) -> None:
        if self.cfg.is_ssl:  # the TLS handshake happens in the thread: gthread's way
            super().accept(listener)
        else:
            self._accept_plain(listener)
        if self.nr_conns > self.worker_connections:
            self._shed()

    def _accept_plain(self, listener: socket.socket) -> None:
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._read(TConn(self.cfg, client, addr, listener.getsockname()))  # non-blocking

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection shows its next request: read it whole first too."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        conn.sock.setblocking(False)
        self._read(conn)

    def finish_request(self, conn: TConn, fs) -> None:  # noqa: ANN001 - a Future
        """A pipelining client may have sent its next request (or the start of it) with the
        last one: gthread hands such a connection straight back to a thread, which would
        wait on the rest (and read a chunked body the slow way). The event loop frames it
        first, as any request."""
        leftover = self._leftover(conn, fs)
        if leftover:
            conn.parser.unreader.buf = io.BytesIO()  # taken back: the loop reads the rest
            conn.sock.setblocking(False)
            self._read(conn, leftover)
            return
        if not self.cfg.is_ssl and not fs.cancelled() and fs.exception() is None and fs.result() is False:
            self._linger(conn)  # answered, and not kept alive
            return
        super().finish_request(conn, fs)

    def _leftover(self, conn: TConn, fs) -> bytes:  # noqa: ANN001
        """Bytes of the next request left in a kept-alive connection's parser."""
        if not self.alive or self.cfg.is_ssl or fs.cancelled() or fs.exception() is not None:
            return b""
        if fs.result() is not True or conn.parser is None:
            return b""
        return conn.parser.unreader.buf.getvalue()

    # -- reading -------------------------------------------------------------------------

    def _read(self, conn: TConn, received: bytes = b"") -> None:
        reading = _Reading(conn, time.monotonic() + self._read_timeout)
        self._reading.append(reading)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, reading))
        if received:  # a pipelined request (_leftover)
            self._take(reading, received)

    def _on_readable(self, reading: _Reading, sock: socket.socket) -> None:
        if (data := _recv(sock)) is None:
            return
        if not data:
            self._drop(reading)
            return
        self._take(reading, data)

    def _take(self, reading: _Reading, data: bytes) -> None:
        """Frame the bytes received; answer what the framer refuses, dispatch what is whole."""
        try:
            state = reading.framer.feed(data)
        except Refused as refused:
            self._drop(reading, answer=_REFUSALS[type(refused)])
            return
        sock = reading.conn.sock
        if state.expects_continue and not reading.continued:
            reading.continued = True  # the client waits for it before sending the body
            try:
                sock.send(_CONTINUE)
            except OSError:
                pass
        if state.complete:
            self._dispatch(reading)

    def _dispatch(self, reading: _Reading) -> None:
        """Hand the complete request to a thread; the parser reads the buffer first."""
        self._forget(reading)
        conn = reading.conn
        if conn.parser is None:
            conn.initialized = True  # plain HTTP/1.x: what TConn.init would have set up
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(reading.framer.request())
        conn.data_ready = True
        self.enqueue_req(conn)

    def _forget(self, reading: _Reading) -> None:
        self._unwatch(reading.conn.sock, self._reading, reading)

    def _unwatch(self, sock: socket.socket, queue: deque, entry: object) -> None:
        """Take a connection off the poller and out of the queue it waits in."""
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            queue.remove(entry)
        except ValueError:
            pass

    def _drop(self, reading: _Reading, answer: tuple[int, str] | None = None) -> None:
        self._forget(reading)
        if answer is not None:
            try:
                write_plain_error(reading.conn.sock, answer[0], answer[1], "")
            except OSError:
                pass
        self.nr_conns -= 1
        reading.conn.close()

    # -- closing -------------------------------------------------------------------------

    def _linger(self, conn: TConn) -> None:
        """gthread closes with util.close_graceful: a half-close, then up to 2 s waiting in
        the event loop itself for the client to close too, so a client that read its answer
        and kept the socket open froze every other connection of the worker for 2 s (24 of
        them: 48 s). Here the poller waits."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self.nr_conns -= 1
            conn.close()
            return
        closing = _Closing(conn, time.monotonic() + _LINGER)
        self._closing.append(closing)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_closing_readable, closing))

    def _on_closing_readable(self, closing: _Closing, sock: socket.socket) -> None:
        if (data := _recv(sock)) is None:
            return
        closing.drained += len(data)
        if not data or closing.drained > _LINGER_BYTES:
            self._close(closing)

    def _close(self, closing: _Closing) -> None:
        self._unwatch(closing.conn.sock, self._closing, closing)
        self.nr_conns -= 1
        closing.conn.close()

    # -- at the connection limit -----------------------------------------------------------

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gthread's, except that an event of a connection closed earlier in the same turn
        (shed for a new one: see `_shed`) is skipped, not handed a closed socket."""
        try:
            for key, _ in self.poller.select(timeout):
                if self.poller.get_map().get(key.fd) is key:
                    key.data(key.fileobj)
        except OSError as e:
            if e.errno != errno.EINTR:
                raise

    def set_accept_enabled(self, enabled: bool) -> None:
        """gthread stops accepting at `worker_connections`; this worker goes on while it
        has a connection to shed for the new one (see `_shed`)."""
        if not enabled and self.alive and (self._closing or self.keepalived_conns or self._reading):
            enabled = True
        super().set_accept_enabled(enabled)

    def _shed(self) -> None:
        """Close one connection for a new one: one already answered and closing, else the
        oldest idle kept-alive connection (its client reconnects), else the oldest
        connection still sending its request (503)."""
        if self._closing:
            self._close(self._closing[0])
        elif self.keepalived_conns:
            conn = self.keepalived_conns[0]
            self._unwatch(conn.sock, self.keepalived_conns, conn)
            self.nr_conns -= 1
            conn.close()
        elif self._reading:
            self._drop(self._reading[0], answer=(503, "Service Unavailable"))

    def murder_pending(self) -> None:
        """gthread's pending sweep (each loop turn), plus: requests past `read_timeout` and
        closing connections past their linger, and, once the worker stops, all of those."""
        super().murder_pending()
        now = time.monotonic()
        while self._reading and (self._reading[0].deadline <= now or not self.alive):
            self._drop(self._reading[0], answer=None if not self.alive else (408, "Request Timeout"))
        while self._closing and (self._closing[0].deadline <= now or not self.alive):
            self._close(self._closing[0])
