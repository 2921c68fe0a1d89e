"""`RedactingLogger`: gunicorn's logger, with no secret in an access log line.

The token belongs in the `Authorization` header, which the access log format never prints;
but a client (or an attacker probing) may put it in the URI, which the request line `%(r)s`
carries, under any parameter name (`?jwt=`, `?t=`) or as a path segment. Replaced by
`[redacted]`: the configured `api_token` wherever it appears; the value of a parameter whose
name says secret (`token`, `key`, `password`, …); and any value or path segment that looks
like a token, whatever its name: a JWT, or a long high-entropy run (see `looks_like_token`).
Ordinary values (`t=10`, an id, a name, a path) stay readable.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

from gunicorn.glogging import Logger

__all__ = ["RedactingLogger", "redact", "looks_like_token"]

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"token|secret|passw|key|auth|sig", re.I)
#: Atoms that carry the request's URI or query string.
_URI_ATOMS = ("r", "q", "{raw_uri}e", "{query_string}e")
_JWT = re.compile(r"([A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
#: A run of the characters base64, base64url and hex keys are written with.
_KEYLIKE = re.compile(r"[A-Za-z0-9+/=_~.-]{20,}")
_ENTROPY_MIN = 3.5  # bits per character


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _is_jwt(text: str) -> bool:
    """Three base64url parts whose first decodes to a JSON object (a JWT's header)."""
    for m in _JWT.finditer(text):
        head = m[1]
        try:
            if base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).lstrip().startswith(b"{"):
                return True
        except ValueError:
            continue
    return False


def looks_like_token(value: str) -> bool:
    """A JWT, or a run of 20+ key characters with 3+ upper-case and 3+ lower-case letters and
    at least 3.5 bits of entropy per character (a random base64url string of 20 characters
    passes 99.4 times in 100, of 43 always). Not: numbers, words, lower-case names, paths,
    a container's id (64 hex digits), a backup's name (two capitals)."""
    if _is_jwt(value):
        return True
    for run in _KEYLIKE.findall(value):
        upper, lower = sum(c.isupper() for c in run), sum(c.islower() for c in run)
        if upper >= 3 and lower >= 3 and _entropy(run) >= _ENTROPY_MIN:
            return True
    return False


def _redact_query(query: str) -> str:
    out = []
    for part in re.split(r"([&;])", query):
        name, eq, value = part.partition("=")
        if part in ("&", ";") or not part:
            out.append(part)
        elif eq and (_SECRET_NAME.search(name) or looks_like_token(unquote_plus(value))):
            out.append(name + eq + REDACTED)
        elif not eq and looks_like_token(unquote_plus(part)):
            out.append(REDACTED)
        else:
            out.append(part)
    return "".join(out)


def _redact_path(path: str) -> str:
    return "/".join(REDACTED if looks_like_token(unquote_plus(seg)) else seg for seg in path.split("/"))


def _redact_uri(uri: str) -> str:
    path, q, query = uri.partition("?")
    return _redact_path(path) + q + _redact_query(query)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` (a request line, a URI or a query string) without `secrets` or token-like values."""
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    words = text.split(" ")
    if len(words) >= 3:  # a request line: METHOD URI PROTOCOL
        return " ".join([words[0], *(_redact_uri(w) for w in words[1:-1]), words[-1]])
    if text.startswith("/") or "://" in text or "?" in text:
        return _redact_uri(text)
    return _redact_query(text)


class RedactingLogger(Logger):
    def setup(self, cfg: Any) -> None:  # noqa: ANN401 - gunicorn's Config
        super().setup(cfg)
        try:
            from ..config import Config

            token = Config.from_env().api_token
        except Exception:  # noqa: BLE001 - a bad config stops the start elsewhere, with its own line
            token = None
        self._secrets = (token,) if token else ()

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:  # noqa: ANN401
        atoms = super().atoms(resp, req, environ, request_time)
        for key in _URI_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key], self._secrets)
        atoms.pop("{authorization}i", None)
        return atoms
