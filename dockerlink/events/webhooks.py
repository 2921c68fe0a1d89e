"""Webhooks: every journal event POSTed to `webhook_url`, in seq order, at least once.

The journal is the outbox: the sender keeps the last delivered seq (and its failed
attempts and next try) in the journal's `state`, so nothing is lost when the collector,
the service or the host restarts, and a receiver that was down gets everything after.
It runs in its own thread of the collector process: a dead receiver never delays sampling.

Each POST carries the event as JSON (`{"seq","time","id","name","type","detail"}`) and

    X-Dockerlink-Event: <type>
    X-Dockerlink-Delivery: <seq>           (the same on every retry: de-duplicate on it)
    X-Dockerlink-Timestamp: <unix seconds when signed>
    X-Dockerlink-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with webhook_secret>

A receiver verifies the HMAC over the exact bytes received, rejects a timestamp more than a
few minutes away from its clock (replays), and answers 2xx; anything else (a redirect too:
they are never followed) is a failure, retried after 1, 2, 4 … seconds, at most an hour.
The URL comes from the configuration only, never from a request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from .. import jobs
from .journal import Event, Journal

__all__ = ["sign", "verify", "Sender", "DELIVERED", "backoff", "outbox_status"]

log = logging.getLogger("dockerlink.events")

DELIVERED = "webhook.delivered"
ATTEMPTS = "webhook.attempts"
NEXT_TRY = "webhook.next_try"
MAX_BACKOFF = 3600.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (tests use it too)."""
    try:
        expected = sign(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature)


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures in a row: 1, 2, 4 … ≤ 1 h."""
    return jobs.backoff(max(1, attempts), 1.0, MAX_BACKOFF)


def outbox_status(journal: Journal, now: float) -> dict[str, Any]:
    """For /v1/health: events not yet delivered, and how long the oldest has waited."""
    delivered = journal.state(DELIVERED)
    if delivered is None:
        return {"backlog": 0, "oldest_age": None}
    backlog, oldest = journal.backlog(int(delivered))
    return {"backlog": backlog, "oldest_age": None if oldest is None else round(max(0.0, now - oldest), 1)}


def body_of(event: Event) -> bytes:
    return json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True).encode()


class Sender:
    def __init__(
        self,
        journal: Journal,
        url: str,
        secret: str,
        *,
        session: Any = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        self._journal = journal
        self._url = url
        self._secret = secret
        self._clock = clock
        self._timeout = timeout
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy or netrc from the environment
        self._session = session

    def delivered(self) -> int:
        return int(self._journal.state(DELIVERED, "0") or 0)

    def start_from_now(self) -> None:
        """A first start with webhooks on sends what happens from now on, not the journal's
        whole past."""
        if self._journal.state(DELIVERED) is None:
            self._journal.set_state(**{DELIVERED: str(self._journal.last_seq())})

    def post(self, event: Event) -> bool:
        body = body_of(event)
        ts = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "dockerlink-webhook",
            "X-Dockerlink-Event": event.type,
            "X-Dockerlink-Delivery": str(event.seq),
            "X-Dockerlink-Timestamp": str(ts),
            "X-Dockerlink-Signature": sign(self._secret, ts, body),
        }
        try:
            r = self._session.post(self._url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False)
            r.close()
        except requests.RequestException as exc:
            log.info("webhook for event %d failed: %s", event.seq, type(exc).__name__)
            return False
        if 200 <= r.status_code < 300:
            return True
        log.info("webhook for event %d answered %d", event.seq, r.status_code)
        return False

    def step(self) -> float:
        """Try the oldest undelivered event if its time has come; returns seconds to wait
        before the next step (0: go on at once)."""
        now = self._clock()
        next_try = float(self._journal.state(NEXT_TRY, "0") or 0)
        if next_try > now:
            return next_try - now
        delivered = self.delivered()
        pending = self._journal.undelivered(delivered, 1)
        if not pending:
            return 5.0
        event = pending[0]
        if self.post(event):
            self._journal.set_state(**{DELIVERED: str(event.seq), ATTEMPTS: "0", NEXT_TRY: "0"})
            return 0.0
        attempts = int(self._journal.state(ATTEMPTS, "0") or 0) + 1
        delay = backoff(attempts)
        self._journal.set_state(**{ATTEMPTS: str(attempts), NEXT_TRY: str(self._clock() + delay)})
        return delay

    def run(self, stopped: Callable[[float], bool]) -> None:
        self.start_from_now()
        appended = self._journal.appended
        while True:
            appended.clear()  # before looking: an event appended from now on wakes the wait below
            try:
                delay = self.step()
            except Exception:  # noqa: BLE001 - keep sending whatever one step did
                log.exception("webhook sender step failed")
                delay = 5.0
            if delay <= 0:
                if stopped(0):
                    return
                continue
            # Sleep until the delay passes, waking early for a new event when idle.
            deadline = self._clock() + delay
            while True:
                left = deadline - self._clock()
                if left <= 0 or stopped(0):
                    break
                if appended.wait(min(left, 1.0)) and self._journal.state(NEXT_TRY, "0") in ("0", None):
                    break
            if stopped(0):
                return
