"""Demultiplexing of the engine's 8-byte framed exec/attach stream (Tty=false).

Each frame is a header `>BxxxL` (stream type, three pad bytes, big-endian payload length)
followed by the payload. Stream 1 is stdout, 2 is stderr (0, stdin, is treated as stdout).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .errors import FrameError

__all__ = ["FrameError", "Demultiplexer", "FrameDecoder", "iter_frames", "demultiplex"]

_HEADER = struct.Struct(">BxxxL")
_STREAMS = (0, 1, 2)


def _header(buffer: bytes | bytearray | memoryview, pos: int, at: int) -> tuple[int, int]:
    """(stream, payload length) of the header at `pos`; `at` is its byte in the whole stream."""
    stream, length = _HEADER.unpack_from(buffer, pos)
    if stream not in _STREAMS:
        raise FrameError(f"unknown stream type {stream} at byte {at}")
    return stream, length


def iter_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (stream, payload) for every frame of a complete framed stream."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        if len(view) - pos < _HEADER.size:
            raise FrameError(f"truncated frame header at byte {pos}")
        stream, length = _header(view, pos, pos)
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


class FrameDecoder:
    """Incremental `iter_frames` for a stream read in chunks: `feed()` returns the frames
    completed so far. A stream that does not start with a frame header (a container with a
    tty writes its output raw) is passed through as stdout."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._consumed = 0  # bytes of the stream before the buffer, for error messages
        self.raw: bool | None = None  # decided by the first bytes

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        if self.raw:
            return [(1, chunk)] if chunk else []
        self._buffer += chunk
        if self.raw is None:
            if len(self._buffer) < _HEADER.size:
                return []
            head = self._buffer[: _HEADER.size]
            self.raw = head[0] not in _STREAMS or head[1:4] != b"\0\0\0"
            if self.raw:
                data, self._buffer = bytes(self._buffer), bytearray()
                return [(1, data)]
        frames = []
        pos = 0
        view = self._buffer
        while len(view) - pos >= _HEADER.size:
            stream, length = _header(view, pos, self._consumed + pos)
            end = pos + _HEADER.size + length
            if end > len(view):
                break
            frames.append((stream, bytes(view[pos + _HEADER.size : end])))
            pos = end
        del self._buffer[:pos]
        self._consumed += pos
        return frames

    def close(self) -> list[tuple[int, bytes]]:
        """What is left at the end: raw bytes as stdout; a cut frame is an error."""
        if self._buffer and self.raw is None:
            data, self._buffer = bytes(self._buffer), bytearray()
            return [(1, data)]
        if self._buffer:
            raise FrameError("truncated frame at the end of the stream")
        return []


class Demultiplexer:
    """The same, fed chunk by chunk as the stream arrives, keeping at most `limit` payload
    bytes (stdout and stderr together; None: all). Memory stays within the limit whatever
    the frame sizes: payloads are consumed as they come, never buffered whole."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.truncated = False
        self._out = bytearray()
        self._err = bytearray()
        self._header = bytearray()
        self._stream = 1
        self._remaining = 0
        self._offset = 0  # bytes of the stream consumed, for error messages

    def feed(self, chunk: bytes) -> bool:
        """Consume `chunk`; False once past the limit (read no more)."""
        view = memoryview(chunk)
        pos = 0
        while pos < len(view) and not self.truncated:
            if self._remaining == 0:
                take = min(_HEADER.size - len(self._header), len(view) - pos)
                self._header += view[pos : pos + take]
                pos += take
                if len(self._header) < _HEADER.size:
                    break
                stream, self._remaining = _header(self._header, 0, self._offset)
                self._header.clear()
                self._stream = stream
                self._offset += _HEADER.size
                continue
            take = min(self._remaining, len(view) - pos)
            self._keep(view[pos : pos + take])
            pos += take
            self._remaining -= take
            self._offset += take
        return not self.truncated

    def _keep(self, payload: memoryview) -> None:
        if self.limit is not None:
            room = self.limit - len(self._out) - len(self._err)
            if len(payload) > room:
                payload = payload[:room]
                self.truncated = True
        (self._err if self._stream == 2 else self._out).extend(payload)

    def close(self) -> tuple[bytes, bytes]:
        """(stdout, stderr); a stream that ended inside a frame is a FrameError (unless cut)."""
        if not self.truncated and (self._header or self._remaining):
            part = "header" if self._header else "payload"
            raise FrameError(f"truncated frame {part} at byte {self._offset}")
        return bytes(self._out), bytes(self._err)
