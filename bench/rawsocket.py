"""A minimal raw HTTP/1.1 client on the engine's unix socket: the floor the benches compare to.

No library beyond http.client: one kept-alive connection, JSON in, bytes out.
"""

from __future__ import annotations

import http.client
import json
import selectors
import socket
from typing import Any
from urllib.parse import urlencode


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class RawEngine:
    def __init__(self, path: str = "/var/run/docker.sock", version: str = "1.41", timeout: float = 60) -> None:
        self._conn = _UnixConnection(path, timeout)
        self._prefix = f"/v{version}"

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None, tar: bytes | None = None
    ) -> bytes:
        """One request (a JSON `body`, or a `tar`); the body of the answer, or RuntimeError on
        an error status. A connection the engine closes (an exec start hijacks it) is
        reopened on the next call, and so is one it closed while idle (minutes without a
        call, as while a bench makes 1000 sites): the request was never read, so it is sent
        again on a new connection."""
        data = tar if tar is not None else None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/x-tar" if tar is not None else "application/json"} if data else {}
        target = self._prefix + path + ("?" + urlencode(query) if query else "")
        try:
            self._conn.request(method, target, body=data, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            self._conn.close()
            self._conn.request(method, target, body=data, headers=headers)
        r = self._conn.getresponse()
        content = r.read()
        if r.status >= 400:
            raise RuntimeError(f"{method} {target}: {r.status} {content[:200]!r}")
        return content

    def json(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        content = self.call(method, path, body, query)
        return json.loads(content) if content else None

    def close(self) -> None:
        self._conn.close()


def get_all(path: str, targets: list[str]) -> list[bytes]:
    """GET every target at once, each on its own connection, from one thread: the floor for
    a fan-out. Whole answers, unparsed, in the order asked."""
    sel = selectors.DefaultSelector()
    answers = [b""] * len(targets)
    for i, target in enumerate(targets):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    while sel.get_map():
        for key, _ in sel.select():
            data = key.fileobj.recv(65536)
            if data:
                answers[key.data] += data
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
    sel.close()
    return answers
