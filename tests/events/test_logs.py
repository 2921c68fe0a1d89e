"""Log output: merging by the engine's timestamps, the cut, the incremental frame decoder."""

from __future__ import annotations

import struct

from dockerlink.engine import FrameDecoder
from dockerlink.events.logs import merge


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_lines_are_merged_by_time_and_trimmed_fractions_compare_as_numbers():
    frames = [
        (1, b"2026-01-01T00:00:00.12Z out second\n"),
        (2, b"2026-01-01T00:00:00.1Z err first\n"),
        (1, b"2026-01-01T00:00:01Z out third\n"),
    ]
    assert merge(frames, timestamps=False) == b"err first\nout second\nout third\n"
    assert merge(frames, timestamps=True).splitlines()[0] == b"2026-01-01T00:00:00.1Z err first"


def test_over_the_budget_the_newest_lines_stay_and_a_last_line_says_so():
    frames = [(1, b"2026-01-01T00:00:%02dZ line %d\n" % (i, i)) for i in range(50)]
    body = merge(frames, timestamps=False, budget=400)
    lines = body.splitlines()
    assert lines[-2] == b"line 49"
    assert lines[-1].startswith(b"[dockerlink: output cut")
    assert len(body) <= 400


def test_the_decoder_reassembles_frames_split_across_chunks():
    data = frame(1, b"hello\n") + frame(2, b"oops\n")
    decoder = FrameDecoder()
    got = []
    for i in range(len(data)):
        got += decoder.feed(data[i : i + 1])
    got += decoder.close()
    assert got == [(1, b"hello\n"), (2, b"oops\n")]


def test_a_tty_stream_passes_through_as_stdout():
    decoder = FrameDecoder()
    assert decoder.feed(b"plain output from a tty\n") == [(1, b"plain output from a tty\n")]
