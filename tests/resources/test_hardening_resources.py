"""Requests an attacker or a careless client sends (issue 12): none is a 500."""

from __future__ import annotations

import io

VALID = {"name": "site1", "host_port_root": 10000, "memory": 0.5, "cpulimit": 1.5}


def test_deeply_nested_json_is_a_400_naming_the_body_not_a_500(client):
    for method in ("PUT", "PATCH"):
        r = client.simulate_request(method, "/v1/container", params={"id": "x"}, body="[" * 200000)
        assert r.status_code == 400, r.text
        assert r.text == "body: JSON nested too deeply\n"


def test_a_chunked_body_is_read_not_taken_for_empty(client):
    r = client.simulate_request(
        "PUT",
        "/v1/container",
        headers={"Transfer-Encoding": "chunked"},
        extras={"wsgi.input": io.BytesIO(b'{"name": "bad name!"}'), "CONTENT_LENGTH": ""},
    )
    assert r.status_code == 400
    assert r.text.startswith("host_port_root: is required")
