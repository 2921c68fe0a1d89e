"""The receiving host's agent as the sending one calls it: its `/v1/transfer/receive…`
endpoints, with the transfer token it minted, TLS verified when its URL is https
(`requests`' default CA bundle, or REQUESTS_CA_BUNDLE). Never a redirect followed: the
token goes to the URL the panel gave, nowhere else.
"""

from __future__ import annotations

import os
import re
from typing import Any

import requests

from ..errors import InvalidInput

__all__ = ["Peer", "PeerFailed", "URL_PATTERN", "check_url"]

CONNECT_TIMEOUT = 10.0
#: Seconds the receiving host may take to answer one step (a whole archive extracted, a start).
READ_TIMEOUT = 600.0


class PeerFailed(Exception):
    """The receiving host refused a step (its one-line answer), or could not be reached.
    `status` is its HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
#: The receiving agent's base URL: http(s)://host[:port], no credentials, path, query; also
#: the OpenAPI pattern.
URL_PATTERN = rf"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{{0,252}})|\[[0-9A-Fa-f:.]{{2,45}}\])(?::{_PORT})?/?"
_URL = re.compile(URL_PATTERN)


def check_url(value: object) -> str:
    """The receiving agent's base URL (URL_PATTERN)."""
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise InvalidInput("to", "expected the receiving host's base URL, http(s)://host[:port]")
    return value.rstrip("/")


class Peer:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.trust_env = False  # no proxy from the environment between the hosts
        self._session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        try:
            r = self._session.request(
                method, self.url + path, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), allow_redirects=False, **kw
            )
        except requests.RequestException as exc:
            raise PeerFailed(f"the receiving host did not answer: {type(exc).__name__}") from None
        if not 200 <= r.status_code < 300:
            line = ((r.text or "").strip().splitlines() or [""])[0][:300]
            raise PeerFailed(f"the receiving host answered {r.status_code}: {line}", r.status_code)
        return r

    def open(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create the site there (not started); its id and port root."""
        return self._call("PUT", "/v1/transfer/receive", json=spec).json()

    def send(self, path: str, number: int) -> None:
        """One pass's archive (a file: its length is known, as the receiving worker needs)."""
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            self._call(
                "PUT",
                "/v1/transfer/receive/data",
                params={"pass": str(number)},
                data=f,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )

    def commit(self, removed: list[str], start: bool) -> dict[str, Any]:
        """Apply the deletions, start the site if it ran here; its state there."""
        return self._call("POST", "/v1/transfer/receive/commit", json={"removed": removed, "start": start}).json()

    def abort(self) -> None:
        """Remove what the receiving host made; PeerFailed 409 once it has committed."""
        self._call("DELETE", "/v1/transfer/receive")
