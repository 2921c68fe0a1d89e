"""The recorded engine answers in fixtures/engine/ (made by scripts/record_fixtures.py),
loaded as values and served to the client by `responses`.

The index holds each exchange's method, wire path, query, request body and status; bodies
are in their own files, exec streams as raw bytes. `serve()` registers one exchange so that
it answers only a request with the same method, path and query (the `filters` query value
compared as JSON), so a client sending anything else gets no answer and the test fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import responses
from requests import PreparedRequest

__all__ = ["FIXTURES", "SOCKET", "BASE", "Recorded", "load", "serve"]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "engine"
SOCKET = "/var/run/docker.sock"
#: How the transport spells the socket in a URL (requests-unixsocket's convention).
BASE = "http+unix://%2Fvar%2Frun%2Fdocker.sock"


@dataclass(frozen=True)
class Recorded:
    name: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    request: Any
    status: int
    content_type: str
    location: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@cache
def _index() -> dict[str, dict[str, Any]]:
    return json.loads((FIXTURES / "index.json").read_text())


def load(name: str) -> Recorded:
    entry = _index()[name]
    body = (FIXTURES / entry["body"]).read_bytes() if entry["body"] else b""
    return Recorded(
        name=name,
        method=entry["method"],
        path=entry["path"],
        query=tuple((k, v) for k, v in entry["query"]),
        request=entry["request"],
        status=entry["status"],
        content_type=entry["content_type"],
        location=entry["location"],
        body=body,
    )


def _normal_query(pairs: Any) -> dict[str, Any]:
    query = dict(pairs)
    if "filters" in query:
        query["filters"] = json.loads(query["filters"])
    return query


def _query_matcher(expected: tuple[tuple[str, str], ...]):  # noqa: ANN202 - a responses matcher
    want = _normal_query(expected)

    def match(request: PreparedRequest) -> tuple[bool, str]:
        got = _normal_query(parse_qsl(urlsplit(request.url or "").query, keep_blank_values=True))
        return got == want, f"query {got} is not the recorded {want}"

    return match


def serve(rsps: responses.RequestsMock, name: str, **overrides: Any) -> responses.BaseResponse:
    """Register one recorded exchange; `overrides` replace responses.add() arguments."""
    rec = load(name)
    kwargs: dict[str, Any] = {
        "method": rec.method,
        "url": BASE + rec.path,
        "body": rec.body,
        "status": rec.status,
        "content_type": rec.content_type or None,
        "headers": {"Location": rec.location} if rec.location else None,
        "match": [_query_matcher(rec.query)],
    }
    kwargs.update(overrides)
    return rsps.add(**kwargs)
