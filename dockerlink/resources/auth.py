"""Bearer-token authentication (the panel's token or a scoped token) and CORS, as Falcon
middleware. What a scoped token may call is `dockerlink.tokens.ENDPOINT_SCOPES`."""

from __future__ import annotations

import hmac

import falcon

from .. import ui
from ..config import Config
from ..engine import BadRequest, Engine, InvalidReference, NotFound
from ..errors import Forbidden
from ..tokens import ENDPOINT_SCOPES, Grant, InvalidToken, ScopedTokens

__all__ = ["middleware", "TokenAuth", "OPEN_PATHS", "grant_of"]

#: Paths answered without a token: health, and the operator's page and its two assets
#: (exactly those paths: they hold no data; the page asks for the token).
OPEN_PATHS = frozenset({"/v1/health"}) | ui.PUBLIC_PATHS


def _unauthorized(description: str) -> falcon.HTTPUnauthorized:
    return falcon.HTTPUnauthorized(title="401 Unauthorized", description=description, challenges=["Bearer"])


def grant_of(req: falcon.Request) -> Grant | None:
    """The scoped token's grant behind this request; None for the panel's token (or none set).
    Its `container_id` is the container `process_resource` checked the request's `id` names."""
    return req.context.get("grant")


class TokenAuth:
    """`process_request` says who is calling (the panel, or a scoped token's grant in
    `req.context.grant`); `process_resource`, once the route is known, says whether a
    grant may call it and for which container."""

    def __init__(self, token: str, tokens: ScopedTokens | None = None, engine: Engine | None = None) -> None:
        self._expected = token.encode()
        self._tokens = tokens
        self._engine = engine

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.grant = None
        if req.method == "OPTIONS" or req.path in OPEN_PATHS:
            return
        scheme, _, given = (req.get_header("Authorization") or "").partition(" ")
        # The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
        if scheme.lower() != "bearer":
            raise _unauthorized("missing or wrong bearer token")
        if hmac.compare_digest(given.encode(), self._expected):
            return
        if self._tokens is None or given.count(".") != 2:
            raise _unauthorized("missing or wrong bearer token")
        try:
            req.context.grant = self._tokens.verify(given)
        except InvalidToken as exc:
            raise _unauthorized(str(exc)) from None

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict) -> None:
        grant: Grant | None = req.context.get("grant")
        if grant is None:
            return
        access = ENDPOINT_SCOPES.get((req.method, req.uri_template or ""))
        if access is None:
            raise Forbidden("a scoped token cannot call this endpoint")
        if not grant.allows(access):
            raise Forbidden(f"the token's scopes do not include {access.scope!r}")
        refs = req.get_param_as_list("id") or []
        if not refs:
            if not access.absent_id_is_own:
                raise Forbidden("a scoped token needs the id of its container")
            req.params["id"] = grant.container_id
        for ref in refs:
            if self._resolve(ref) != grant.container_id:
                raise Forbidden("the token is for another container")

    def _resolve(self, ref: str) -> str | None:
        """The full id `ref` names now; None when it names nothing or several containers."""
        if self._engine is None:
            return None
        try:
            return self._engine.containers.inspect(ref).id
        except (NotFound, BadRequest, InvalidReference):
            return None


def middleware(config: Config, tokens: ScopedTokens | None = None, engine: Engine | None = None) -> list[object]:
    chain: list[object] = []
    if config.cors_origins:
        origins = "*" if "*" in config.cors_origins else list(config.cors_origins)
        chain.append(falcon.CORSMiddleware(allow_origins=origins, allow_credentials=None, expose_headers=None))
    if config.api_token:
        chain.append(TokenAuth(config.api_token, tokens, engine))
    return chain
