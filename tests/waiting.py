"""Waiting on a condition another thread or process brings about, never for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds (a
    liveness bound only: the failure it catches is a hang, never a slow machine)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not met within {timeout:.0f} s: {what}"
        time.sleep(0.005)
