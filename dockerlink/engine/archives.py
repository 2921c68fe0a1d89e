"""Small files in a container (running or not) through the engine's archive endpoint.

`get` holds the tar in memory, so it reads the answer as it streams and stops at
`max_bytes`: a file the container made huge (/etc/passwd grown to a gigabyte) costs a
worker that much and no more. Owners and modes are the archive's (the engine extracts as
root, keeping the tar's uid, gid and mode).
"""

from __future__ import annotations

from .errors import AnswerTooLarge
from .refs import check_container_ref
from .transport import Transport

__all__ = ["Archives", "SMALL_ARCHIVE"]

#: Default cap of `get`: the tar of one small file (headers included).
SMALL_ARCHIVE = 1 << 20
_CHUNK = 64 * 1024


class Archives:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def get(self, ref: str, path: str, max_bytes: int = SMALL_ARCHIVE) -> bytes:
        """A tar of `path` in the container; NotFound when the path does not exist,
        AnswerTooLarge (nothing more read) when the tar is over `max_bytes`."""
        kept = bytearray()
        with self._t.stream("GET", ["containers", check_container_ref(ref), "archive"], params={"path": path}) as s:
            for chunk in s.chunks(_CHUNK):
                kept += chunk
                if len(kept) > max_bytes:
                    raise AnswerTooLarge(f"the archive of {path} is over {max_bytes} bytes")
        return bytes(kept)

    def put(self, ref: str, directory: str, tar: bytes) -> None:
        """Extract `tar` under `directory`, an existing directory of the container."""
        self._t.request(
            "PUT",
            ["containers", check_container_ref(ref), "archive"],
            params={"path": directory},
            data=tar,
            headers={"Content-Type": "application/x-tar"},
        )
