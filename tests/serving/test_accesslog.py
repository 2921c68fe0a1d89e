"""No token in an access log line, whatever the client put in the query string."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from dockerlink.serving.accesslog import redact

TOKEN = "s3cret token/with+signs"


def test_secret_named_query_values_are_redacted_and_the_rest_kept():
    line = "GET /v1/env?access_token=abc&id=site1;api_key=zz&Password=p&auth=q HTTP/1.1"
    assert redact(line) == (
        "GET /v1/env?access_token=[redacted]&id=site1;api_key=[redacted]&Password=[redacted]&auth=[redacted] HTTP/1.1"
    )
    assert redact("token=abc&id=1") == "token=[redacted]&id=1"


def test_the_configured_token_is_redacted_in_any_parameter_and_any_encoding():
    for form in (TOKEN, "s3cret%20token%2Fwith%2Bsigns", "s3cret+token%2Fwith%2Bsigns"):
        assert "s3cret" not in redact(f"GET /v1/container?id={form} HTTP/1.1", (TOKEN,))


# A scoped token as the service mints it (HS256 JWT), written out.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0ZjJjIiwic2NvcGUiOiJzdGF0cyIsImV4cCI6MTc5NTc1NDI1MH0"
    ".Zk1Gx0Qm2pUq3rS4tV5wX6yZ7a8B9c0D1e2F3g4H5i6"
)
RANDOM_KEYS = (
    "Xy7pQ2vLk9mN4rT8wZ1bC3dF",  # 24, base64url
    "k3J9_fQx-Lm2PzR8vT1wYb4NcA6dHe0s5Gu7Ki9Oj3M",  # 43, token_urlsafe(32)
    "q8Hf2KpLz+9mRt/XvB3nWc7Y1aDe5GhJ==",  # base64 with its padding
)


@pytest.mark.parametrize("name", ["jwt", "t", "x", "q", "bearer", "s"])
@pytest.mark.parametrize("value", [JWT, *RANDOM_KEYS])
def test_a_token_looking_value_is_redacted_whatever_the_parameter_name(name, value):
    for form in (value, quote(value, safe=""), quote_plus(value)):
        line = redact(f"GET /v1/container/stats?id=site1&{name}={form}&since=0 HTTP/1.1")
        assert line == f"GET /v1/container/stats?id=site1&{name}=[redacted]&since=0 HTTP/1.1"


@pytest.mark.parametrize("value", [JWT, RANDOM_KEYS[1]])
def test_a_token_in_the_path_or_as_a_bare_query_word_is_redacted(value):
    assert redact(f"GET /v1/{value}/x?{value} HTTP/1.1") == "GET /v1/[redacted]/x?[redacted] HTTP/1.1"
    assert redact(f"/v1/env?a=Bearer%20{value}") == "/v1/env?a=[redacted]"  # the raw_uri atom
    assert redact(f"id=site1&jwt={value}") == "id=site1&jwt=[redacted]"  # the query_string atom


@pytest.mark.parametrize(
    "query",
    [
        "t=10",
        "id=2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",  # a full id
        "id=site1&since=0&scale=day",
        "name=site1&backup=20261130T141500Z-1a2b3c4d",
        "path=/var/www/html&branch=feature/login-form",
        "id=dltest-abc123-metrics&running=true",
        "cursor=1795753351&limit=100&tail=100",
    ],
)
def test_ordinary_values_stay_readable(query):
    assert redact(f"GET /v1/container?{query} HTTP/1.1") == f"GET /v1/container?{query} HTTP/1.1"
