"""The site owner's login path (`/v1/container/access`) and its body's schema."""

from __future__ import annotations

from ..access.credentials import (
    KEY_PATTERN,
    KEY_TYPES,
    MAX_KEY_LINE,
    MAX_KEYS,
    MAX_PASSWORD,
    MIN_PASSWORD,
    PASSWORD_PATTERN,
)
from ..engine import CONTAINER_PATTERN
from .statuses import errors

__all__ = ["PATHS", "SCHEMAS", "PASSWORD_SCHEMA", "SSH_KEYS_SCHEMA"]

PATHS = {
    "/v1/container/access": {
        "post": {
            "summary": "Replace the site owner's (user admin) password and/or SSH keys; running or not",
            "description": (
                "A new password, or a key list that drops a key, then ends the running site's live SSH "
                "connections and web terminal logins: no session outlives the credential it opened with."
            ),
            "parameters": [
                {
                    "name": "id",
                    "in": "query",
                    "required": True,
                    "description": "full id, unique prefix, or name",
                    "schema": {"type": "string", "pattern": f"^{CONTAINER_PATTERN}$"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Access"}}},
            },
            "responses": {
                "204": {"description": "set"},
                **errors(
                    400,
                    401,
                    403,
                    404,
                    409,
                    413,
                    502,
                    503,
                    narrower={
                        409: "the container's image has no user admin; its /etc/passwd or /etc/shadow is over 1 MiB"
                    },
                ),
            },
        }
    }
}

#: The owner's login fields, also accepted by create.
PASSWORD_SCHEMA = {
    "type": "string",
    "minLength": MIN_PASSWORD,
    "maxLength": MAX_PASSWORD,
    "pattern": f"^{PASSWORD_PATTERN}$",
}
SSH_KEYS_SCHEMA = {
    "type": "array",
    "maxItems": MAX_KEYS,
    "description": "OpenSSH public key lines: '<type> <base64> [comment]', type among " + ", ".join(KEY_TYPES),
    "items": {"type": "string", "maxLength": MAX_KEY_LINE, "pattern": f"^{KEY_PATTERN}$"},
}
SCHEMAS = {
    "Access": {
        "type": "object",
        "minProperties": 1,
        "properties": {"password": PASSWORD_SCHEMA, "ssh_keys": SSH_KEYS_SCHEMA},
    }
}
