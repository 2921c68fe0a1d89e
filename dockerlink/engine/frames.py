"""Demultiplexing of the engine's 8-byte framed exec/attach stream (Tty=false).

Each frame is a header `>BxxxL` (stream type, three pad bytes, big-endian payload length)
followed by the payload. Stream 1 is stdout, 2 is stderr (0, stdin, is treated as stdout).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .errors import FrameError

__all__ = ["FrameError", "iter_frames", "demultiplex"]

_HEADER = struct.Struct(">BxxxL")


def iter_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (stream, payload) for every frame of a complete framed stream."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        if len(view) - pos < _HEADER.size:
            raise FrameError(f"truncated frame header at byte {pos}")
        stream, length = _HEADER.unpack_from(view, pos)
        if stream not in (0, 1, 2):
            raise FrameError(f"unknown stream type {stream} at byte {pos}")
        start = pos + _HEADER.size
        end = start + length
        if end > len(view):
            raise FrameError(f"truncated frame payload at byte {pos}")
        yield stream, bytes(view[start:end])
        pos = end


def demultiplex(data: bytes) -> tuple[bytes, bytes]:
    """Split a framed stream into (stdout, stderr)."""
    out: list[bytes] = []
    err: list[bytes] = []
    for stream, payload in iter_frames(data):
        (err if stream == 2 else out).append(payload)
    return b"".join(out), b"".join(err)
