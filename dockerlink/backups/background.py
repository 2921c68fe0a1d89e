"""Writes handed to a few threads in order, bounded: a host restore's small files are
created while the next members are read (hostrestore.py). Creating a file costs kernel
time (~0.4 ms here, with the owner, mode and time set), during which the reading thread,
decompressing and checking the archive, can go on: the GIL is released in each call.

The caller keeps the archive's order where it matters: `busy` says whether a name (or a
directory above it) is a file still being written, and the caller `drain`s before
touching it; what is pending is bounded by count and bytes, so memory stays flat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["Failed", "Writes"]

#: Threads writing; each write mostly waits in the kernel.
THREADS = 2
MAX_PENDING = 32
MAX_PENDING_BYTES = 4 << 20


class Failed(Exception):
    """A write failed: `name`, and the OSError's text."""

    def __init__(self, name: str, strerror: str) -> None:
        super().__init__(f"{name}: {strerror}")
        self.name = name
        self.strerror = strerror


class Writes:
    def __init__(self, threads: int = THREADS) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="restore-write")
        self._pending: deque[tuple[Future, tuple[str, ...], int]] = deque()
        self._names: set[tuple[str, ...]] = set()
        self._bytes = 0

    def busy(self, parts: tuple[str, ...]) -> bool:
        """Whether `parts`, or a directory above it, names a write still pending."""
        return bool(self._names) and any(parts[:i] in self._names for i in range(1, len(parts) + 1))

    def add(self, parts: tuple[str, ...], size: int, write: Callable[..., None], *args: object) -> None:
        """Run `write(*args)` (which writes `parts`, `size` bytes) on a thread; waits for the
        oldest writes first while too many are pending. Failed if an earlier one failed."""
        self._pending.append((self._pool.submit(write, *args), parts, size))
        self._names.add(parts)
        self._bytes += size
        while len(self._pending) > MAX_PENDING or self._bytes > MAX_PENDING_BYTES:
            self._wait_oldest()

    def drain(self) -> None:
        """Wait for every pending write; Failed for the first that failed."""
        while self._pending:
            self._wait_oldest()

    def close(self) -> None:
        """Wait for the writes still running (after a failure: their errors dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        self._names.clear()

    def _wait_oldest(self) -> None:
        future, parts, size = self._pending.popleft()
        self._names.discard(parts)
        self._bytes -= size
        try:
            future.result()
        except OSError as exc:
            raise Failed("/".join(parts), exc.strerror or str(exc)) from None
