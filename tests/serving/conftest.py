"""A framer that spins must fail its test, not hang the run: every test here has a wide
time limit (SIGALRM interrupts a pure-Python loop between two bytecodes)."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager

import pytest

LIMIT = 20  # seconds: no claim on speed, only the line between "returned" and "spins"


@contextmanager
def time_limit(seconds: float, what: str):  # noqa: ANN201
    def expired(signum, frame):  # noqa: ANN001, ANN202
        raise TimeoutError(f"{what} did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # an enclosing limit goes on with what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


@pytest.fixture(autouse=True)
def _no_test_spins_for_ever(request):  # noqa: ANN001, ANN202
    with time_limit(LIMIT, request.node.name):
        yield
