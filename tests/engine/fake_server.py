"""A tiny HTTP server on a unix socket (or 127.0.0.1) standing in for dockerd, for the
code that does not go through `requests` (the fan-out) and so cannot be faked by `responses`.

Each connection gets one answer from `reply(target)`, which returns the raw bytes to send
(the connection is then closed, as dockerd does after `Connection: close`).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["FakeServer", "free_unix_path", "http_answer"]


def http_answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None, chunked: bool = False) -> bytes:
    reason = {200: "OK", 301: "Moved Permanently", 404: "Not Found", 500: "Internal Server Error"}.get(status, "X")
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        payload = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (body[:half], body[half:]) if p)
        payload += b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def _body_complete(headers: list[str], body: bytes) -> bool:
    """Whether `body` holds the whole request body the headers announce."""
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in headers)}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        return body.endswith(b"0\r\n\r\n")
    return len(body) >= int(fields.get("content-length") or 0)


class _Handler(socketserver.BaseRequestHandler):
    def _receive(self, data: bytes, until) -> bytes | None:  # noqa: ANN001
        while not until(data):
            chunk = self.request.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data

    def handle(self) -> None:
        server: FakeServer = self.server.owner  # type: ignore[attr-defined]
        data = self._receive(b"", lambda d: b"\r\n\r\n" in d)
        if data is None:
            return
        raw_head, _, body = data.partition(b"\r\n\r\n")
        head = raw_head.decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        with server.lock:
            server.requests.append((method, target, head[1:]))
            server.open_now += 1
            server.most_open = max(server.most_open, server.open_now)
        try:
            # The whole request is read before answering, as dockerd does: a socket closed
            # with the client's body still unread resets the connection (ECONNRESET), and the
            # client then loses the end of an answer it had been sent (EngineUnavailable).
            if self._receive(body, lambda b: _body_complete(head[1:], b)) is None:
                return
            answer = server.reply(target)
            if answer:
                self.request.sendall(answer)
        finally:
            with server.lock:
                server.open_now -= 1


class _Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 1024


class _Tcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class FakeServer:
    """Serve `reply` at `address` until `close()`; `requests` records (method, target, headers)."""

    def __init__(self, reply: Callable[[str], bytes | None], socket_dir: Path | None = None) -> None:
        self.reply = reply
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, list[str]]] = []
        self.open_now = 0
        self.most_open = 0
        if socket_dir is not None:
            path = str(socket_dir / "engine.sock")
            self._server: socketserver.BaseServer = _Unix(path, _Handler)
            self.address = f"unix://{path}"
        else:
            self._server = _Tcp(("127.0.0.1", 0), _Handler)
            host, port = self._server.server_address[:2]  # type: ignore[misc]
            self.address = f"tcp://{host}:{port}"
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def targets(self) -> list[str]:
        with self.lock:
            return [t for _, t, _ in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_unix_path(tmp: Path) -> str:
    """A socket path nobody listens on."""
    path = tmp / "nobody.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # bound, never listening: connect is refused
    return f"unix://{path}"
