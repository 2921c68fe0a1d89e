"""Many GETs at once from one thread: a connection per request, answers read as they come.

Made for the stats fallback. dockerd answers a one-shot stats call only on its next stats
tick and then reads the subscribed containers one after another, so the calls must all be
in flight together. A thread per call does that too, at three times the CPU: measured at
200 containers on 2 cores, 442 ms of collector CPU a round with 256 threads, 143 ms from
one thread with a selector (the wall time is the daemon's, 2.2 s either way).

Requests say `Connection: close`, so an answer ends where its connection does; the bytes
are then parsed by `http.client`, which knows chunked bodies. Redirects are answers like
any other (never followed).
"""

from __future__ import annotations

import http.client
import io
import selectors
import socket
import time
from collections import deque
from collections.abc import Sequence
from urllib.parse import urlsplit

from .address import socket_path
from .errors import EngineError, EngineUnavailable, error_from_response
from .response import Response

__all__ = ["get_all", "parse"]

#: Sockets open at once; the rest wait for a slot (a host with thousands of containers
#: must not run out of file descriptors).
MAX_OPEN = 512
_CHUNK = 65536


class _Bytes:
    """What `http.client.HTTPResponse` wants of a socket, over bytes already read."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._data))


def parse(data: bytes) -> Response:
    """An HTTP/1.1 answer from the whole of what the connection sent before closing."""
    r = http.client.HTTPResponse(_Bytes(data))  # type: ignore[arg-type]
    r.begin()
    return Response(r.status, r.msg, r.read())


def _connect(address: str, request: bytes, timeout: float) -> socket.socket:
    """A socket that has sent `request` and now reads without blocking."""
    path = socket_path(address)
    if path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: object = path
    else:
        parts = urlsplit(address)
        sock = socket.socket(socket.AF_INET6 if ":" in (parts.hostname or "") else socket.AF_INET)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        target = (parts.hostname, parts.port)
    try:
        sock.settimeout(timeout)
        sock.connect(target)
        sock.sendall(request)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _host_header(address: str) -> str:
    return "localhost" if socket_path(address) is not None else urlsplit(address).netloc


def get_all(
    address: str,
    targets: Sequence[str],
    *,
    ok: Sequence[int] = (200,),
    timeout: float = 30.0,
    max_open: int = MAX_OPEN,
) -> list[Response | EngineError]:
    """GET every target (path and query, already encoded) at once; the i-th result is the
    i-th target's answer, or the error it maps to. Nothing raises for one call: a caller
    decides what a missing container or an engine that did not answer means to it."""
    results: list[Response | EngineError | None] = [None] * len(targets)
    where = socket_path(address) or urlsplit(address).netloc
    host = _host_header(address)
    deadline = time.monotonic() + timeout
    waiting = deque(range(len(targets)))
    buffers: dict[int, bytearray] = {}
    sel = selectors.DefaultSelector()

    def finish(i: int, sock: socket.socket, result: Response | EngineError) -> None:
        sel.unregister(sock)
        sock.close()
        del buffers[i]
        results[i] = result

    def open_more() -> None:
        while waiting and len(buffers) < max_open:
            i = waiting.popleft()
            left = deadline - time.monotonic()
            request = f"GET {targets[i]} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            try:
                sock = _connect(address, request.encode("ascii"), max(left, 0.001))
            except OSError:
                results[i] = EngineUnavailable(f"the Docker engine at {where} is unreachable")
                continue
            buffers[i] = bytearray()
            sel.register(sock, selectors.EVENT_READ, i)

    try:
        open_more()
        while buffers:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                i, sock = key.data, key.fileobj
                try:
                    data = sock.recv(_CHUNK)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    finish(i, sock, EngineUnavailable(f"the Docker engine at {where} closed the connection"))  # type: ignore[arg-type]
                    continue
                if data:
                    buffers[i] += data
                    continue
                finish(i, sock, _result(bytes(buffers[i]), ok, where))  # type: ignore[arg-type]
            open_more()
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        sel.close()
    late = EngineUnavailable(f"the Docker engine at {where} did not answer in time")
    return [late if r is None else r for r in results]


def _result(data: bytes, ok: Sequence[int], where: str) -> Response | EngineError:
    try:
        answer = parse(data)
    except (http.client.HTTPException, ValueError):
        return EngineUnavailable(f"the Docker engine at {where} sent an incomplete answer")
    if answer.status in ok:
        return answer
    return error_from_response(answer.status, answer.content, answer.headers.get("Location"))
