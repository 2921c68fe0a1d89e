"""`POST /v1/token` mints a scoped token; `DELETE /v1/token?jti=` revokes one (panel token only)."""

from __future__ import annotations

import falcon

from ..engine import CONTAINER_PATTERN
from ..errors import Forbidden
from ..openapi import TEXT_PLAIN
from ..ownership import require_owned
from ..services import Services
from ..tokens import DEFAULT_TTL, MAX_TTL, SCOPES, parse_token_request
from . import params

__all__ = ["routes", "OPENAPI_PATHS", "OPENAPI_SCHEMAS"]


class Tokens:
    def __init__(self, services: Services) -> None:
        self._containers = services.engine.containers
        self._tokens = services.tokens

    def _issuer(self):  # noqa: ANN202
        if self._tokens is None:
            raise Forbidden("scoped tokens need api_token to be set")
        return self._tokens

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        issuer = self._issuer()
        request = parse_token_request(params.json_object(req))
        container = require_owned(self._containers.inspect(request.ref))
        token, expires = issuer.mint(container.id, request.scopes, request.ttl)
        resp.media = {"token": token, "expires": expires}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._issuer().revoke(params.text(req, "jti", required=True) or "")
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, object]]:
    return [("/v1/token", Tokens(services))]


_ERRORS = {
    "400": {"description": "malformed field (named)", "content": TEXT_PLAIN},
    "401": {"description": "missing or wrong token", "content": TEXT_PLAIN},
    "403": {"description": "a scoped token, or api_token unset", "content": TEXT_PLAIN},
}

OPENAPI_PATHS = {
    "/v1/token": {
        "post": {
            "summary": "Mint a short-lived token for one container and some scopes (panel token only)",
            "description": (
                "The token is accepted only on the endpoints of its scopes (stats: stats; power: start, stop, "
                "restart; git: the git endpoints with this id; every scope: the listing, narrowed to this "
                "container) and only for its container. Changing api_token revokes every token."
            ),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}},
            },
            "responses": {
                "200": {
                    "description": "the token",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}},
                },
                **_ERRORS,
                "404": {"description": "no such container", "content": TEXT_PLAIN},
                "413": {"description": "body over 1 MiB", "content": TEXT_PLAIN},
            },
        },
        "delete": {
            "summary": "Revoke a scoped token (panel token only)",
            "parameters": [
                {
                    "name": "jti",
                    "in": "query",
                    "required": True,
                    "description": "the token's jti claim",
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
                }
            ],
            "responses": {"204": {"description": "revoked"}, **_ERRORS},
        },
    }
}

OPENAPI_SCHEMAS = {
    "TokenRequest": {
        "type": "object",
        "required": ["id", "scopes"],
        "properties": {
            "id": {"type": "string", "pattern": f"^{CONTAINER_PATTERN}$"},
            "scopes": {"type": "array", "minItems": 1, "items": {"enum": list(SCOPES)}},
            "ttl": {"type": "integer", "minimum": 1, "maximum": MAX_TTL, "default": DEFAULT_TTL},
        },
    },
    "Token": {
        "type": "object",
        "required": ["token", "expires"],
        "properties": {"token": {"type": "string"}, "expires": {"type": "integer"}},
    },
}
