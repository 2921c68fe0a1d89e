"""The 8-byte framed exec stream, demultiplexed from plain bytes."""

from __future__ import annotations

import os
import struct

import pytest

from dockerlink.engine.frames import FrameError, demultiplex, iter_frames


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_interleaved_frames_are_split_by_stream_in_order():
    data = frame(1, b"out-1\n") + frame(2, b"err-1\n") + frame(1, b"out-2\n") + frame(2, b"err-2\n")
    assert demultiplex(data) == (b"out-1\nout-2\n", b"err-1\nerr-2\n")


def test_iter_frames_yields_each_frame_with_its_stream():
    data = frame(2, b"e") + frame(1, b"o") + frame(1, b"")
    assert list(iter_frames(data)) == [(2, b"e"), (1, b"o"), (1, b"")]


def test_stdin_frames_count_as_stdout():
    assert demultiplex(frame(0, b"in") + frame(1, b"out")) == (b"inout", b"")


def test_empty_stream_is_empty_output():
    assert demultiplex(b"") == (b"", b"")


def test_one_mebibyte_in_32_kib_frames_is_reassembled_byte_for_byte():
    payload = os.urandom(1024 * 1024)
    chunk = 32 * 1024
    data = b"".join(frame(1, payload[i : i + chunk]) for i in range(0, len(payload), chunk))
    data += frame(2, b"done\n")
    stdout, stderr = demultiplex(data)
    assert stdout == payload
    assert stderr == b"done\n"


def test_payload_bytes_that_look_like_headers_are_not_parsed_as_frames():
    tricky = frame(2, b"not a frame")  # a header-shaped payload inside a stdout frame
    assert demultiplex(frame(1, tricky)) == (tricky, b"")


@pytest.mark.parametrize("cut", [1, 4, 7])
def test_truncated_header_raises_frame_error(cut: int):
    data = frame(1, b"whole") + frame(2, b"next")[:cut]
    with pytest.raises(FrameError, match="truncated frame header"):
        demultiplex(data)


def test_truncated_payload_raises_frame_error():
    data = frame(1, b"0123456789")[:-3]
    with pytest.raises(FrameError, match="truncated frame payload"):
        demultiplex(data)


@pytest.mark.parametrize("stream", [3, 255])
def test_unknown_stream_type_raises_frame_error(stream: int):
    with pytest.raises(FrameError, match=f"unknown stream type {stream}"):
        demultiplex(frame(1, b"ok") + frame(stream, b"?"))
