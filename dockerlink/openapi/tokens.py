"""The scoped tokens' path (`/v1/token`: mint, revoke) and schemas."""

from __future__ import annotations

from ..engine import CONTAINER_PATTERN
from ..tokens import DEFAULT_TTL, MAX_TTL, SCOPES
from .statuses import errors

__all__ = ["PATHS", "SCHEMAS"]

_NARROWER = {400: "malformed field (named)", 403: "a scoped token, or api_token unset"}

PATHS = {
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
                **errors(400, 401, 403, 404, 413, narrower=_NARROWER),
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
            "responses": {"204": {"description": "revoked"}, **errors(400, 401, 403, narrower=_NARROWER)},
        },
    }
}

SCHEMAS = {
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
