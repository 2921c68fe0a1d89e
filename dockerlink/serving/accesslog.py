"""`RedactingLogger`: gunicorn's logger, with no secret in an access log line.

The token belongs in the `Authorization` header, which the access log format never prints;
but a client (or an attacker probing) may put it in the query string, which the request
line `%(r)s` carries. Query values whose name says secret (`token`, `access_token`, `key`,
`password`, …) and the configured `api_token` itself, wherever it appears, are replaced.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_plus

from gunicorn.glogging import Logger

__all__ = ["RedactingLogger", "redact"]

REDACTED = "[redacted]"
_SECRET_PARAM = re.compile(r"((?:^|[?&;])[^=&;#\s]*(?:token|secret|passw|key|auth|sig)[^=&;#\s]*=)[^&;#\s]*", re.I)
#: Atoms that carry the request's URI or query string.
_URI_ATOMS = ("r", "q", "{raw_uri}e", "{query_string}e")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` (a request line or query string) without secret query values or `secrets`."""
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return _SECRET_PARAM.sub(lambda m: m[1] + REDACTED, text)


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
