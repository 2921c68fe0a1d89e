"""`GET /v1/events`: cursor, filters, long-poll wake-up, slots."""

from __future__ import annotations

import threading
import time

import pytest

from dockerlink.events.feed import Feed
from dockerlink.events.journal import Journal
from dockerlink.events.waiting import Busy, Waiters
from tests.waiting import until

ID = "a" * 64


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal(str(tmp_path / "events.sqlite3"))


def test_next_moves_past_events_that_do_not_match(journal):
    journal.append(1.0, ID, "site1", "started", {})
    journal.append(2.0, ID, "site1", "died", {})
    feed = Feed(journal, Waiters(journal.last_seq, 2))
    page = feed.read(0, types=["died"])
    assert [e.type for e in page.events] == ["died"] and page.next == 2
    page = feed.read(0, types=["oom"])
    assert page.events == [] and page.next == 2


def test_a_full_page_stops_at_its_last_event(journal):
    for i in range(5):
        journal.append(float(i), ID, "site1", "started", {})
    page = Feed(journal, Waiters(journal.last_seq, 2)).read(0, limit=2)
    assert [e.seq for e in page.events] == [1, 2] and page.next == 2


def test_a_parked_wait_answers_when_a_matching_event_arrives(journal, tmp_path):
    journal.append(1.0, ID, "site1", "started", {})
    waiters = Waiters(journal.last_seq, 2, poll=0.02)
    cursors: list[int] = []  # each park's cursor, seen through the waiters' own call
    wait_beyond = waiters.wait_beyond

    def parks(seq: int, timeout: float) -> bool:
        cursors.append(seq)
        return wait_beyond(seq, timeout)

    waiters.wait_beyond = parks
    feed = Feed(journal, waiters)
    writer = Journal(journal.path)  # another connection, as the collector's
    failed: list[BaseException] = []

    def later() -> None:
        try:
            until(lambda: cursors == [1] and waiters.parked == 1, "the read parked beyond seq 1")
            writer.append(2.0, "b" * 64, "site2", "started", {})  # not the one waited for
            until(lambda: cursors == [1, 2] and waiters.parked == 1, "the read parked again beyond seq 2")
            writer.append(3.0, ID, "site1", "died", {"exit_code": 3})
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread below
            failed.append(exc)

    t = threading.Thread(target=later)
    t.start()
    started = time.monotonic()
    page = feed.read(1, container=ID, wait=20)
    t.join(20)
    assert failed == []
    assert [e.type for e in page.events] == ["died"]
    assert time.monotonic() - started < 10  # woke on the event, not at the end of the wait


def test_a_wait_with_nothing_coming_ends_empty_at_its_deadline(journal):
    page = Feed(journal, Waiters(journal.last_seq, 1, poll=0.02)).read(0, wait=0.3)
    assert page.events == [] and page.next == 0


def test_past_the_slots_a_wait_is_refused_at_once(journal):
    waiters = Waiters(journal.last_seq, 1, poll=0.02)
    woke: list[bool] = []
    parked = threading.Thread(target=lambda: woke.append(waiters.wait_beyond(0, 20.0)))
    parked.start()
    until(lambda: waiters.parked == 1, "the first wait holds the only slot")
    with pytest.raises(Busy):
        waiters.wait_beyond(0, 1.0)
    journal.append(1.0, ID, "site1", "started", {})  # ends the parked wait
    parked.join(20)
    assert woke == [True]
    assert waiters.wait_beyond(1, 0.05) is False  # the slot is free again


def test_a_parked_wait_runs_its_recheck_while_parked_and_ends_on_what_it_raises(journal):
    class Gone(Exception):
        pass

    calls = []

    def recheck() -> None:
        calls.append(time.monotonic())
        if len(calls) == 3:
            raise Gone

    feed = Feed(journal, Waiters(journal.last_seq, 1, poll=0.02), recheck_every=0.05)
    with pytest.raises(Gone):
        feed.read(0, wait=20, recheck=recheck)
    assert len(calls) == 3 and calls[-1] - calls[0] < 10  # rechecked while parked, not at the deadline


def test_a_recheck_that_never_raises_leaves_the_wait_to_its_deadline_or_event(journal):
    calls = []
    feed = Feed(journal, Waiters(journal.last_seq, 1, poll=0.02), recheck_every=0.05)
    assert feed.read(0, wait=0.3, recheck=lambda: calls.append(1)) == feed.read(0)
    assert len(calls) >= 2
    journal.append(1.0, ID, "site1", "started", {})
    assert [e.type for e in feed.read(0, wait=5, recheck=lambda: None).events] == ["started"]
