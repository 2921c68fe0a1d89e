"""The local engine seen as a remote one: a TCP port on 127.0.0.1 forwarding every
connection to dockerd's unix socket, for the code paths only a `tcp://` engine takes."""

from __future__ import annotations

import socket
import threading

__all__ = ["TcpToUnix"]


class TcpToUnix:
    def __init__(self, socket_path: str) -> None:
        self._path = socket_path
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.address = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self._path)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> TcpToUnix:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_WR if s is dst else socket.SHUT_RD)
            except OSError:
                pass
