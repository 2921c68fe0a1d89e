"""The webhook sender: signature, order, at-least-once across failures and restarts, back-off."""

from __future__ import annotations

import json

import pytest

from dockerlink.events.journal import Journal
from dockerlink.events.webhooks import DELIVERED, Sender, backoff, outbox_status, sign, verify

SECRET = "s3cret-s3cret-s3cret"
ID = "a" * 64


class Answer:
    def __init__(self, status: int) -> None:
        self.status_code = status

    def close(self) -> None:
        pass


class Receiver:
    """A session double: answers the statuses queued, then 204."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.got: list[tuple[dict, bytes, bool]] = []

    def post(self, url, data, headers, timeout, allow_redirects):  # noqa: ANN001, ANN201
        self.got.append((headers, data, allow_redirects))
        return Answer(self.statuses.pop(0) if self.statuses else 204)


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal(str(tmp_path / "events.sqlite3"))


def test_the_signature_is_the_hmac_of_timestamp_dot_body():
    body = b'{"seq":1}'
    assert sign(SECRET, 1700000000, body).startswith("sha256=")
    assert verify(SECRET, "1700000000", body, sign(SECRET, 1700000000, body))
    assert not verify(SECRET, "1700000001", body, sign(SECRET, 1700000000, body))
    assert not verify("another-secret-123", "1700000000", body, sign(SECRET, 1700000000, body))


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert backoff(40) == 3600


def test_every_event_is_delivered_once_in_order_after_failures(journal):
    journal.set_state(**{DELIVERED: "0"})
    for i in range(3):
        journal.append(float(i), ID, "site1", "started", {"i": i})
    now = [1000.0]
    receiver = Receiver([500, 500, 302])
    sender = Sender(journal, "http://127.0.0.1:9/hook", SECRET, session=receiver, clock=lambda: now[0])
    delays = []
    for _ in range(20):
        delay = sender.step()
        delays.append(delay)
        now[0] += delay
    ok = [(h, b) for h, b, _ in receiver.got]
    assert delays[:3] == [1, 2, 4]  # three failures, backing off (a redirect is one)
    delivered = [json.loads(b)["seq"] for h, b in ok[3:]]
    assert delivered == [1, 2, 3]
    for headers, body in ok:
        assert verify(SECRET, headers["X-Dockerlink-Timestamp"], body, headers["X-Dockerlink-Signature"])
        assert headers["X-Dockerlink-Delivery"] == str(json.loads(body)["seq"])
        assert headers["X-Dockerlink-Event"] == "started"
    assert all(redirects is False for _, _, redirects in receiver.got)
    assert outbox_status(journal, now[0]) == {"backlog": 0, "oldest_age": None}


def test_the_outbox_survives_a_restart(journal):
    journal.set_state(**{DELIVERED: "0"})
    journal.append(1.0, ID, "site1", "started", {})
    journal.append(2.0, ID, "site1", "died", {})
    Sender(journal, "http://x/", SECRET, session=Receiver([]), clock=lambda: 10.0).step()  # delivers seq 1
    assert outbox_status(journal, 12.0) == {"backlog": 1, "oldest_age": 10.0}
    receiver = Receiver([])
    again = Sender(Journal(journal.path), "http://x/", SECRET, session=receiver, clock=lambda: 20.0)
    again.start_from_now()  # already started once: keeps its place
    again.step()
    assert [json.loads(b)["seq"] for _, b, _ in receiver.got] == [2]


def test_a_first_start_sends_from_now_on(journal):
    journal.append(1.0, ID, "site1", "started", {})
    sender = Sender(journal, "http://x/", SECRET, session=Receiver([]), clock=lambda: 10.0)
    sender.start_from_now()
    assert sender.delivered() == 1
