"""The 8-byte framed exec stream, demultiplexed from plain bytes."""

from __future__ import annotations

import os
import struct

import pytest

from dockerlink.engine.frames import FrameDecoder, FrameError, demultiplex, iter_frames


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


# --- fed as it arrives, with a limit -----------------------------------------------------

from dockerlink.engine import Demultiplexer  # noqa: E402


def _stream() -> bytes:
    return frame(1, b"out-1\n") + frame(2, b"err-1\n") + frame(1, b"") + frame(1, b"out-2\n" * 50) + frame(2, b"e")


@pytest.mark.parametrize("size", [1, 3, 7, 8, 9, 64, 10_000])
def test_fed_in_chunks_of_any_size_it_demultiplexes_as_the_whole(size):
    data = _stream()
    d = Demultiplexer()
    for i in range(0, len(data), size):
        assert d.feed(data[i : i + size])
    assert d.close() == demultiplex(data)
    assert not d.truncated


def test_past_its_limit_it_keeps_what_fits_and_asks_for_no_more():
    d = Demultiplexer(limit=10)
    assert d.feed(frame(1, b"0123456")) is True
    assert d.feed(frame(2, b"789abc") + frame(1, b"never")) is False
    assert d.truncated
    assert d.close() == (b"0123456", b"789")


def test_one_huge_frame_is_never_held_past_the_limit():
    d = Demultiplexer(limit=1000)
    header = struct.pack(">BxxxL", 1, 50_000_000)  # a 50 MB frame announced
    assert d.feed(header + b"x" * 600) is True
    assert d.feed(b"x" * 600) is False
    assert d.close() == (b"x" * 1000, b"")


def test_a_stream_ending_inside_a_frame_is_a_frame_error():
    d = Demultiplexer()
    d.feed(frame(1, b"abcdef")[:-2])
    with pytest.raises(FrameError, match="truncated frame payload"):
        d.close()


def test_an_unknown_stream_type_is_a_frame_error():
    with pytest.raises(FrameError, match="unknown stream type 7"):
        Demultiplexer().feed(frame(7, b"x"))


@pytest.mark.parametrize("parser", ["iter_frames", "Demultiplexer", "FrameDecoder"])
def test_each_parser_names_the_byte_of_a_bad_header_in_the_whole_stream(parser):
    """One header rule for the three: the second frame's header starts at byte 8 + 3."""
    data = frame(1, b"abc") + frame(9, b"x")
    with pytest.raises(FrameError, match="unknown stream type 9 at byte 11$"):
        if parser == "iter_frames":
            list(iter_frames(data))
        elif parser == "Demultiplexer":
            Demultiplexer().feed(data)
        else:
            decoder = FrameDecoder()
            decoder.feed(data[:5])  # in pieces: the position counts what earlier feeds consumed
            decoder.feed(data[5:12])
            decoder.feed(data[12:])
