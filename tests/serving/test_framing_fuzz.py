"""Whatever bytes a client sends, the framer returns, and its position only moves forward
(issue 29, item 1: a chunk size of -6 sent the scan back and spun the event loop)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dockerlink.serving.framing import Framer, Refused

from .conftest import time_limit

CAP = 4096
CHUNKED = b"POST /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

# Pieces that make chunked bodies likely, the hostile sizes among them; and raw bytes.
SIZES = [b"-6", b"-1", b"-0", b"+6", b"0x6", b"6_0", b" 6", b"6 ", b"0", b"1", b"5", b"ff", b"F" * 16, b"1" * 17]
PIECES = st.one_of(
    st.sampled_from(SIZES),
    st.sampled_from([b"\r\n", b"\r\n\r\n", b";x=y", b"\r", b"\n", b"hello"]),
    st.binary(max_size=24),
)
# Whole chunks, some of a size that is no size ("%x" % -6 is "-6"), in front of anything.
SIZE = st.one_of(st.sampled_from(SIZES), st.integers(min_value=-40, max_value=300).map(lambda n: b"%x" % n))
CHUNK = st.tuples(SIZE, st.binary(max_size=30)).map(lambda c: c[0] + b"\r\n" + c[1] + b"\r\n")
BODIES = st.one_of(
    st.tuples(st.lists(CHUNK, max_size=8).map(b"".join), st.lists(PIECES, max_size=6).map(b"".join)).map(b"".join),
    st.lists(PIECES, max_size=40).map(b"".join),
    st.binary(max_size=600),
)
STARTS = st.sampled_from([CHUNKED, b"GET /v1/env HTTP/1.1\r\n", b"PUT / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", b""])


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=STARTS, body=BODIES, cuts=st.lists(st.integers(min_value=1, max_value=64), max_size=80))
@example(start=CHUNKED, body=b"-6\r\n", cuts=[])
@example(start=CHUNKED, body=b"5\r\nhello\r\n-6\r\nxxxxxxxx\r\n", cuts=[1, 1, 1])
@example(start=CHUNKED, body=b"-1\r\n\r\n", cuts=[])
def test_the_framer_returns_and_only_moves_forward_whatever_it_is_fed(start, body, cuts):
    data, feeds, at = start + body, [], 0
    for n in cuts:  # the bytes as recv would hand them over: the cuts, then the rest at once
        feeds.append(data[at : at + n])
        at += n
    feeds.append(data[at:])
    framer, position = Framer(CAP), 0
    with time_limit(5, "one request's framing"):
        for piece in feeds:
            try:
                done = framer.feed(piece).complete
            except Refused:
                return  # answered 400 / 413 / 431 and closed: nothing more is read
            assert position <= framer.position <= len(framer.buf)
            position = framer.position
            if done:
                return
