"""The bench-only step timings: one JSON line per request with its steps in order, nested
engine calls under their step; nothing at all while the variable is unset."""

from __future__ import annotations

import json

from dockerlink import timings


def test_a_request_is_one_line_with_its_steps_and_engine_calls_in_order(tmp_path, monkeypatch):
    out = tmp_path / "t.jsonl"
    monkeypatch.setenv("DOCKERLINK_TIMINGS", str(out))
    observe = timings.observing(None, lambda method, segments: f"{method} {'/'.join(segments)}")
    timings.begin()
    with timings.step("outer"):
        observe("GET", ["containers", "json"], 0.002)
        with timings.step("inner"):
            observe("POST", ["volumes", "create"], 0.001)
    timings.end("PUT /v1/container")
    [line] = out.read_text().splitlines()
    entry = json.loads(line)
    assert entry["op"] == "PUT /v1/container" and entry["ms"] >= 0
    assert [(d, n) for d, n, _ in entry["steps"]] == [
        (0, "outer"),
        (1, "engine GET containers/json"),
        (1, "inner"),
        (2, "engine POST volumes/create"),
    ]
    assert [ms for _, n, ms in entry["steps"] if n.startswith("engine")] == [2.0, 1.0]


def test_unset_it_records_nothing_and_observing_is_the_inner_observer(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKERLINK_TIMINGS", raising=False)
    inner = lambda method, segments, seconds: None  # noqa: E731
    assert timings.observing(inner, str) is inner
    timings.begin()
    with timings.step("outer"):
        timings.engine_call("GET x", 0.1)
    timings.end("GET /v1/env")
    assert list(tmp_path.iterdir()) == []
