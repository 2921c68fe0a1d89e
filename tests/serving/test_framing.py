"""When the event loop may hand a request to a thread: only once the parser will not wait."""

from __future__ import annotations

import pytest

from dockerlink.serving.framing import MAX_HEAD, BadFraming, BodyTooLarge, Framer, HeadTooLarge, progress

CAP = 1000
HEAD = b"PUT /v1/container HTTP/1.1\r\nHost: x\r\n"
CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


CASES = [
    (b"GET /v1/env HTTP/1.1\r\n", False),
    (b"GET /v1/env HTTP/1.1\r\nHost: x\r\n", False),
    (b"GET /v1/env HTTP/1.1\r\nHost: x\r\n\r\n", True),
    (HEAD + b'Content-Length: 5\r\n\r\n{"a"', False),
    (HEAD + b'Content-Length: 5\r\n\r\n{"a"}', True),
    (HEAD + b'content-length:5\r\n\r\n{"a"}', True),
    (HEAD + b"Content-Length: 99999\r\n\r\n" + b"x" * (CAP + 1), True),  # the app refuses it (413)
    (HEAD + b"Content-Length: 99999\r\n\r\n" + b"x" * CAP, False),
    (HEAD + b"Content-Length: nope\r\n\r\n", True),  # gunicorn answers 400 at once
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", False),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", False),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\n0\r\n\r\n", False),  # "0\r\n\r\n" is data here
    (CHUNKED + b"A ; x=y\r\n0123456789\r\n0\r\n\r\n", True),  # blanks before ";" (RFC 9112)
    (CHUNKED + b"a\r\n0123456789\r\n00\r\n\r\n", True),
    (CHUNKED + b"00000000000003E8\r\n" + b"x" * 100, False),  # 16 digits: waits for the data
]


@pytest.mark.parametrize("buf, complete", CASES)
def test_a_request_is_complete_only_when_its_head_and_body_are_in(buf, complete):
    assert progress(buf, CAP).complete is complete


@pytest.mark.parametrize("buf, complete", CASES)
def test_fed_a_byte_at_a_time_a_request_is_complete_at_its_last_byte_and_not_before(buf, complete):
    framer = Framer(CAP)
    seen = [framer.feed(buf[i : i + 1]).complete for i in range(len(buf))]
    assert seen == [False] * (len(buf) - 1) + [complete]


@pytest.mark.parametrize(
    "size_line",
    [
        b"-6",  # issue 29: int(b"-6", 16) is -6, and the scan went back for ever
        b"-0",
        b"+6",
        b"0x6",
        b"0X6",
        b"6_0",
        b" 6",
        b"\t6",
        b"6 ",
        b"",
        b";x=y",
        b"1" * 17,
        b"6\x00",
        b"\xef\xbc\x96",  # a full-width 6
        b"6\rx",
    ],
)
def test_a_chunk_size_that_is_not_1_to_16_hex_digits_is_refused(size_line):
    with pytest.raises(BadFraming):
        progress(CHUNKED + size_line + b"\r\nhello!\r\n0\r\n\r\n", CAP)


def test_chunk_data_not_followed_by_crlf_is_refused():
    with pytest.raises(BadFraming):
        progress(CHUNKED + b"5\r\nhello!\r\n0\r\n\r\n", CAP)


def test_a_chunk_line_without_end_past_gunicorns_limit_is_refused():
    progress(CHUNKED + b"5;x=" + b"y" * 8000, CAP * 100)
    with pytest.raises(BadFraming):
        progress(CHUNKED + b"5;x=" + b"y" * 8200, CAP * 100)


def test_the_framer_remembers_where_the_last_whole_chunk_ended():
    framer = Framer(CAP)
    framer.feed(CHUNKED + b"5\r\nhel")
    start = len(CHUNKED)
    assert framer.position == start + 3  # the data of the first chunk starts there
    framer.feed(b"lo\r\n3\r\nab")
    assert framer.position == start + 10 + 3  # "5\r\nhello\r\n", then "3\r\n"
    framer.feed(b"c\r\n0\r\n")
    assert framer.position == start + 10 + 8 + 3
    assert framer.feed(b"\r\n").complete


def test_a_client_expecting_100_continue_is_told_to_send_its_body():
    head = HEAD + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    assert progress(head, CAP).expects_continue
    assert not progress(head + b"12345", CAP).expects_continue


def test_a_head_without_end_past_the_limit_is_refused():
    progress(b"GET / HTTP/1.1\r\nX: " + b"y" * (MAX_HEAD - 100), CAP)
    with pytest.raises(HeadTooLarge):
        progress(b"GET / HTTP/1.1\r\nX: " + b"y" * MAX_HEAD, CAP)


@pytest.mark.parametrize(
    "head",
    [
        HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked, chunked\r\n\r\n",
        HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
        HEAD + b"Transfer-Encoding: gzip\r\n\r\n",
        HEAD + b"Transfer-Encoding : chunked\r\n\r\n",
        HEAD + b"X-A: b\r\n Transfer-Encoding: chunked\r\n\r\n",
        HEAD + b"Transfer-Encoding:\r\n chunked\r\n\r\n",
    ],
)
def test_a_body_framing_other_than_one_chunked_line_alone_is_refused(head):
    with pytest.raises(BadFraming):
        progress(head + b"5\r\nhello\r\n0\r\n\r\n", CAP)


def test_a_chunked_body_over_the_cap_is_refused_as_soon_as_a_size_says_so():
    assert progress(CHUNKED + b"3e8\r\n" + b"x" * 1000 + b"\r\n0\r\n\r\n", CAP).complete  # 1000: the cap
    with pytest.raises(BodyTooLarge):
        progress(CHUNKED + b"3e9\r\n", CAP)  # 1001, before any of its data
    with pytest.raises(BodyTooLarge):
        progress(CHUNKED + b"3e8\r\n" + b"x" * 1000 + b"\r\n1\r\n", CAP)


def test_one_byte_chunks_are_refused_past_twice_the_cap_on_the_wire():
    progress(CHUNKED + b"1\r\nx\r\n" * 333, CAP)  # 1998 bytes
    with pytest.raises(BodyTooLarge):
        progress(CHUNKED + b"1\r\nx\r\n" * 334, CAP)


def test_a_chunked_request_reaches_the_parser_de_chunked_with_what_followed_it():
    framer = Framer(CAP)
    sent = CHUNKED + b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nGET /next"
    assert framer.feed(sent).complete
    assert framer.request() == (
        b"PUT /v1/container HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello worldGET /next"
    )


def test_any_other_request_reaches_the_parser_as_it_came():
    framer = Framer(CAP)
    sent = HEAD + b'Content-Length: 5\r\n\r\n{"a"}GET /next'
    assert framer.feed(sent).complete
    assert framer.request() == sent
