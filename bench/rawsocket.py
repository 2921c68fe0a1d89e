"""A minimal raw HTTP/1.1 client on the engine's unix socket: the floor the benches compare to.

No library beyond http.client: one kept-alive connection, JSON in, bytes out.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class RawEngine:
    def __init__(self, path: str = "/var/run/docker.sock", version: str = "1.41") -> None:
        self._conn = _UnixConnection(path)
        self._prefix = f"/v{version}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self._conn.request(method, self._prefix + path, body=data, headers=headers)
        r = self._conn.getresponse()
        return r.status, r.read()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.call(method, path, body)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        self._conn.close()
