"""Bearer-token authentication and CORS, as Falcon middleware."""

from __future__ import annotations

import hmac

import falcon

from ..config import Config

__all__ = ["middleware", "TokenAuth", "OPEN_PATHS"]

#: Paths answered without a token.
OPEN_PATHS = frozenset({"/v1/health"})


class TokenAuth:
    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.method == "OPTIONS" or req.path in OPEN_PATHS:
            return
        scheme, _, given = (req.get_header("Authorization") or "").partition(" ")
        # The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), self._expected):
            raise falcon.HTTPUnauthorized(
                title="401 Unauthorized",
                description="missing or wrong bearer token",
                challenges=["Bearer"],
            )


def middleware(config: Config) -> list[object]:
    chain: list[object] = []
    if config.cors_origins:
        origins = "*" if "*" in config.cors_origins else list(config.cors_origins)
        chain.append(falcon.CORSMiddleware(allow_origins=origins, allow_credentials=None, expose_headers=None))
    if config.api_token:
        chain.append(TokenAuth(config.api_token))
    return chain
