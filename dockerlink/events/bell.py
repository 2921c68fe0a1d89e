"""The journal's bell: how a worker's parked `GET /v1/events` hears at once that the
collector (another process) journaled an event.

The writer rings after each commit that added events: it touches the journal file's time
(`os.utime`, one system call). Each worker with a parked wait listens with inotify for that
file's attribute change (`IN_ATTRIB`), which SQLite's own writes do not cause (the WAL,
checkpoints: `IN_MODIFY`), nor any reader; an operator's chmod would only wake the waits
once for nothing.

Why this and not the alternatives (each wakes a sleeping thread at once: the choice is
about what can go wrong):
- inotify on the WAL itself needs nothing from the writer, but its change comes with the
  first frame written, before the commit is visible (and the wal-index in shared memory,
  which makes it visible, raises no inotify event): a reader woken then reads the old seq
  and the wake-up is lost;
- a unix datagram socket per worker needs a directory of sockets the collector keeps
  track of, and stale ones cleaned up after a worker's death;
- a FIFO wakes one reader of several workers.
The ring comes after the commit, adds no file to the state directory, and needs no
bookkeeping of who listens. The watcher still asks the journal every `poll` seconds
(`dockerlink.events.waiting`): a lost ring (inotify missing, the file replaced, a queue
overflow) costs at most that poll, as before the bell.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import select
import struct
import time

__all__ = ["ring", "Listener", "listen"]

log = logging.getLogger("dockerlink.events")

# <sys/inotify.h>
_IN_ATTRIB = 0x00000004
_IN_Q_OVERFLOW = 0x00004000
_IN_IGNORED = 0x00008000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
    _libc.inotify_init1.argtypes = [ctypes.c_int]
    _libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
except (OSError, AttributeError):  # not Linux, or a libc without inotify: the poll alone
    _libc = None


def ring(path: str) -> None:
    """The writer's side: after a commit that added events. Never fails the write: a ring
    that cannot be made costs the listeners one poll."""
    try:
        os.utime(path)
    except OSError as exc:
        log.debug("could not ring the journal's bell on %s: %s", path, exc)


class Listener:
    """One inotify watch on a file's attribute changes (`ring`); a worker's watcher thread
    owns one while waits are parked."""

    def __init__(self, fd: int, path: str) -> None:
        self._fd = fd
        self._path = path
        self._watching = False
        self._watch()

    def _watch(self) -> None:
        assert _libc is not None
        self._watching = _libc.inotify_add_watch(self._fd, os.fsencode(self._path), _IN_ATTRIB) >= 0

    @property
    def watching(self) -> bool:
        """Whether the file is watched now (False after it went, until it is there again)."""
        return self._watching

    def wait(self, timeout: float) -> bool:
        """Up to `timeout` seconds for a ring; True when one came (or may have: an
        overflow). A watch that was lost (the file replaced) is set again first, so the
        next ring is heard."""
        if not self._watching:
            self._watch()
            if not self._watching:
                time.sleep(timeout)
                return False
        ready, _, _ = select.select([self._fd], [], [], timeout)
        return bool(ready) and self._drain()

    def _drain(self) -> bool:
        rang = False
        while True:
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                return rang
            at = 0
            while at + _EVENT.size <= len(data):
                _, mask, _, size = _EVENT.unpack_from(data, at)
                at += _EVENT.size + size
                if mask & _IN_IGNORED:
                    self._watching = False  # the file went: watch the new one next time
                if mask & (_IN_ATTRIB | _IN_Q_OVERFLOW):
                    rang = True

    def close(self) -> None:
        os.close(self._fd)


_told: list[str] = []  # why inotify failed, said once per process


def listen(path: str) -> Listener | None:
    """A listener for `ring(path)`; None where inotify is not available (the poll alone:
    not Linux, or `fs.inotify.max_user_instances` reached)."""
    if _libc is None:
        return None
    fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    if fd < 0:
        reason = os.strerror(ctypes.get_errno() or errno.EINVAL)
        if not _told:
            log.warning("no inotify (%s): parked event waits poll the journal every 0.2 s", reason)
            _told.append(reason)
        return None
    return Listener(fd, path)
