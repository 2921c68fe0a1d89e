"""No token in an access log line, whatever the client put in the query string."""

from __future__ import annotations

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
