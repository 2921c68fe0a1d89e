"""The journal's bell: a parked wait hears of an event another process's journal wrote,
without waiting for the poll; and the poll still delivers when the ring is lost."""

from __future__ import annotations

import os
import threading
import time
from functools import partial

import pytest

from dockerlink.events import bell
from dockerlink.events.journal import Journal
from dockerlink.events.waiting import Waiters
from tests.waiting import until

ID = "a" * 64
#: A poll no test outlives: a wake-up inside the bound can only be the bell's.
NEVER = 3600.0


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal(str(tmp_path / "events.sqlite3"))


def test_a_listener_hears_a_ring_and_only_a_ring(journal):
    listener = bell.listen(journal.path)
    assert listener is not None  # Linux: inotify is there
    try:
        assert listener.wait(0.05) is False  # nothing rang
        writer = Journal(journal.path)  # the collector's connection
        writer.note_request(ID, "stop")  # a write that adds no event: SQLite's own writes do not ring
        assert listener.wait(0.05) is False
        writer.append(1.0, ID, "site1", "started", {})
        assert listener.wait(10.0) is True
        assert listener.wait(0.05) is False  # one ring, heard once
    finally:
        listener.close()


class Listening:
    """Wraps the watcher's listener: says when the watcher first listens (it has read the
    journal's last seq by then, so only a ring or the poll can tell it of what comes next)."""

    def __init__(self, make) -> None:  # noqa: ANN001
        self._make = make
        self.listening = threading.Event()

    def __call__(self) -> Listening:
        self._inner = self._make()
        return self

    def wait(self, timeout: float) -> bool:
        self.listening.set()
        return self._inner.wait(timeout)

    def close(self) -> None:
        self._inner.close()


class Deaf:
    """A listener that never hears anything (the ring lost)."""

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return False

    def close(self) -> None:
        pass


def test_a_ring_reaches_a_parked_wait_long_before_the_poll(journal):
    """The poll is an hour: only the bell can end this wait within the bound."""
    listen = Listening(partial(bell.listen, journal.path))
    waiters = Waiters(journal.last_seq, 2, listen=listen, poll=NEVER)
    woke: list[bool] = []
    parked = threading.Thread(target=lambda: woke.append(waiters.wait_beyond(0, 60.0)), daemon=True)
    parked.start()
    until(listen.listening.is_set, "the watcher listens")
    started = time.monotonic()
    Journal(journal.path).append(1.0, ID, "site1", "died", {"exit_code": 3})
    parked.join(20)
    assert woke == [True]
    assert time.monotonic() - started < 20  # a liveness bound: without the ring it hangs an hour


def test_a_lost_ring_costs_one_poll_and_no_event(journal):
    listen = Listening(Deaf)
    waiters = Waiters(journal.last_seq, 2, listen=listen, poll=0.02)
    woke: list[bool] = []
    parked = threading.Thread(target=lambda: woke.append(waiters.wait_beyond(0, 60.0)), daemon=True)
    parked.start()
    until(listen.listening.is_set, "the watcher listens")
    Journal(journal.path).append(1.0, ID, "site1", "died", {"exit_code": 3})
    parked.join(30)
    assert woke == [True]


def test_a_replaced_journal_file_is_listened_to_again(tmp_path):
    path = str(tmp_path / "events.sqlite3")
    open(path, "w").close()
    listener = bell.listen(path)
    try:
        os.unlink(path)  # (its link count is an attribute: that may ring once, harmlessly)
        until(lambda: listener.wait(0.01) is False and not listener.watching, "the watch went with the file")
        open(path, "w").close()
        assert listener.wait(0.05) is False  # watched again: the new file
        bell.ring(path)
        assert listener.wait(10.0) is True
    finally:
        listener.close()


def test_a_ring_on_a_missing_file_fails_nothing(tmp_path):
    bell.ring(str(tmp_path / "gone.sqlite3"))
