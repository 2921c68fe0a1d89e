"""Where a request's milliseconds go, step by step, for the benches (`bench/api_calls.py`).

Off, and free, unless the environment variable `DOCKERLINK_TIMINGS` names a file when the
worker starts: then each request appends one JSON line to it,
`{"op": "PUT /v1/container", "ms": 412.3, "steps": [[depth, name, ms], ...]}`, the steps
in the order they began: the operations' own (`step`) and every engine call inside them
(`engine_call`, fed by the transport's observers). Never a log line: a bench reads the file.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

__all__ = ["ENV", "enabled", "begin", "end", "step", "engine_call", "observing"]

ENV = "DOCKERLINK_TIMINGS"

_state = threading.local()


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def begin() -> None:
    """Start recording this thread's steps (a request's), when timings are on."""
    if enabled():
        _state.steps, _state.depth, _state.started = [], 0, time.perf_counter()


def end(op: str) -> None:
    """Stop recording and append the request's line to the file; nothing when not begun."""
    steps = getattr(_state, "steps", None)
    if steps is None:
        return
    _state.steps = None
    line = {"op": op, "ms": _ms(_state.started), "steps": steps}
    path = os.environ.get(ENV)
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())  # one write: lines of workers never mix
        finally:
            os.close(fd)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time a step of the request being recorded (and the steps and engine calls inside it)."""
    steps = getattr(_state, "steps", None)
    if steps is None:
        yield
        return
    entry: list = [_state.depth, name, 0.0]
    steps.append(entry)
    _state.depth += 1
    started = time.perf_counter()
    try:
        yield
    finally:
        _state.depth -= 1
        entry[2] = _ms(started)


def engine_call(label: str, seconds: float) -> None:
    steps = getattr(_state, "steps", None)
    if steps is not None:
        steps.append([_state.depth, f"engine {label}", round(seconds * 1000, 3)])


Observer = Callable[[str, Sequence[str], float], None]


def observing(inner: Observer | None, label: Callable[[str, Sequence[str]], str]) -> Observer | None:
    """`inner`, also telling the recorded request of each engine call when timings are on."""
    if not enabled():
        return inner

    def observe(method: str, segments: Sequence[str], seconds: float) -> None:
        if inner is not None:
            inner(method, segments, seconds)
        engine_call(label(method, segments), seconds)

    return observe


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
