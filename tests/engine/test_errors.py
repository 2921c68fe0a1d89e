"""One mapping from an engine answer (status, body) to the exception tree."""

from __future__ import annotations

import json

import pytest

from dockerlink.engine.errors import (
    AmbiguousReference,
    BadRequest,
    Conflict,
    EngineAPIError,
    EngineError,
    EngineUnavailable,
    InvalidReference,
    NotFound,
    ServerError,
    error_from_response,
)


def body(message: str) -> bytes:
    return json.dumps({"message": message}).encode()


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequest), (404, NotFound), (409, Conflict), (500, ServerError), (502, ServerError), (418, ServerError)],
)
def test_status_maps_to_its_exception_class(status: int, kind: type[EngineAPIError]):
    err = error_from_response(status, body("boom"))
    assert type(err) is kind
    assert err.status == status
    assert err.message == "boom"


def test_engine_message_is_taken_from_the_json_body():
    err = error_from_response(404, body("No such container: site-1"))
    assert str(err) == "No such container: site-1"


def test_ambiguous_prefix_500_is_an_ambiguous_reference_and_a_bad_request():
    err = error_from_response(500, body("Multiple IDs found with provided prefix: f"))
    assert isinstance(err, AmbiguousReference)
    assert isinstance(err, BadRequest)
    assert err.status == 500


def test_other_500_stays_a_server_error():
    err = error_from_response(500, body("driver failed programming external connectivity"))
    assert type(err) is ServerError


@pytest.mark.parametrize("status", [301, 302, 304, 307, 308])
def test_redirect_and_unexpected_3xx_become_a_server_error_naming_the_location(status: int):
    err = error_from_response(status, b"", "/v1.41/containers/other")
    assert type(err) is ServerError
    assert err.status == status
    assert "/v1.41/containers/other" in err.message


def test_plain_text_body_is_the_message_on_one_line():
    err = error_from_response(500, b"page not found\n  second   line\n")
    assert err.message == "page not found second line"


@pytest.mark.parametrize("content", [b"", b"  \n", body("")])
def test_empty_message_falls_back_to_the_status(content: bytes):
    assert error_from_response(502, content).message == "engine answered HTTP 502"


@pytest.mark.parametrize("content", [b'{"message": 42}', b'["a list"]', b"{not json"])
def test_json_without_a_string_message_keeps_the_raw_text(content: bytes):
    assert error_from_response(400, content).message == content.decode()


def test_undecodable_bytes_do_not_break_the_mapping():
    err = error_from_response(500, b"\xff\xfe bad")
    assert type(err) is ServerError
    assert err.message.endswith("bad")


@pytest.mark.parametrize("kind", [InvalidReference, EngineUnavailable, EngineAPIError, NotFound, AmbiguousReference])
def test_every_engine_exception_is_an_engine_error(kind: type[Exception]):
    assert issubclass(kind, EngineError)
