"""Files in a container (running or not) through the engine's archive endpoint.

Small files only: the whole tar is held in memory. Owners and modes are the archive's
(the engine extracts as root, keeping the tar's uid, gid and mode).
"""

from __future__ import annotations

from .refs import check_container_ref
from .transport import Transport

__all__ = ["Archives"]


class Archives:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def get(self, ref: str, path: str) -> bytes:
        """A tar of `path` in the container; NotFound when the path does not exist."""
        return self._t.request(
            "GET", ["containers", check_container_ref(ref), "archive"], params={"path": path}
        ).content

    def put(self, ref: str, directory: str, tar: bytes) -> None:
        """Extract `tar` under `directory`, an existing directory of the container."""
        self._t.request(
            "PUT",
            ["containers", check_container_ref(ref), "archive"],
            params={"path": directory},
            data=tar,
            headers={"Content-Type": "application/x-tar"},
        )
