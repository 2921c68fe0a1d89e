"""POST /v1/container/access: replace the site owner's password and/or SSH keys (SPEC §6.1)."""

from __future__ import annotations

import falcon

from ..access import Access
from ..access.credentials import (
    KEY_PATTERN,
    KEY_TYPES,
    MAX_KEY_LINE,
    MAX_KEYS,
    MAX_PASSWORD,
    MIN_PASSWORD,
    PASSWORD_PATTERN,
)
from ..engine import CONTAINER_PATTERN, Engine
from ..openapi import TEXT_PLAIN
from ..ownership import require_owned
from ..services import Services
from . import params

__all__ = ["routes", "OPENAPI_PATHS", "OPENAPI_SCHEMAS", "PASSWORD_SCHEMA", "SSH_KEYS_SCHEMA"]


class ContainerAccess:
    def __init__(self, engine: Engine, access: Access) -> None:
        self._engine = engine
        self._access = access

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        container = require_owned(self._engine.containers.inspect(params.container_id(req)))
        self._access.update_login(container.id, params.json_object(req))
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, object]]:
    return [("/v1/container/access", ContainerAccess(services.engine, Access(services.engine, services.config)))]


_REASONS = {
    400: "malformed input (the message names the field)",
    401: "missing or wrong token",
    403: "not a dockerlink container",
    404: "no such container",
    409: "the container's image has no user admin",
    413: "body over 1 MiB",
    502: "unexpected engine error",
    503: "engine unreachable",
}

OPENAPI_PATHS = {
    "/v1/container/access": {
        "post": {
            "summary": "Replace the site owner's (user admin) password and/or SSH keys; running or not",
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
                **{str(c): {"description": r, "content": TEXT_PLAIN} for c, r in _REASONS.items()},
            },
        }
    }
}

#: The owner's login fields, also accepted by create (resources/containers.py).
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
OPENAPI_SCHEMAS = {
    "Access": {
        "type": "object",
        "minProperties": 1,
        "properties": {"password": PASSWORD_SCHEMA, "ssh_keys": SSH_KEYS_SCHEMA},
    }
}
