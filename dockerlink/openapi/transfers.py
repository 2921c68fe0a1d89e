"""Moving a site between hosts: the sending host's transfer and status, the receiving
host's transfer token and the steps the sending host calls with it."""

from __future__ import annotations

from ..hosting import NAME_PATTERN
from ..tokens import MAX_TTL
from ..transfer.peer import URL_PATTERN
from ..transfer.sender import TOKEN_PATTERN
from .containers import _ID_REQUIRED as _ID
from .statuses import errors

__all__ = ["PATHS", "SCHEMAS"]

_STATUS = {"application/json": {"schema": {"$ref": "#/components/schemas/TransferStatus"}}}
_OBJECT = {"application/json": {"schema": {"type": "object"}}}
_RECEIVING = {
    401: "missing, wrong, expired or revoked transfer token",
    403: "not a transfer token (the sending host calls this with the one this host minted)",
    404: "no such transfer here (aborted, or its token expired)",
    409: "the transfer is not at this step; a name or port in use here",
    502: "the archive could not be written or extracted here; the site could not start",
}

PATHS = {
    "/v1/container/transfer": {
        "post": {
            "summary": "Move the site to another host (panel token only); runs in the background",
            "description": (
                "This host copies /var/www while the site runs, stops it, sends what changed, and the "
                "receiving host starts it. Any failure before the receiving host reports it running "
                "leaves it here, started again if it ran, and nothing there; this host is emptied "
                "(container, volume, nginx file; backups kept) only after. Follow it with GET."
            ),
            "parameters": [_ID],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TransferRequest"}}},
            },
            "responses": {
                "202": {"description": "started", "content": _STATUS},
                **errors(400, 401, 403, 404, 409, 413, 503, narrower={409: "a transfer of the site is running"}),
            },
        },
        "get": {
            "summary": "The last transfer of the site from this host (panel token only)",
            "parameters": [_ID],
            "responses": {
                "200": {"description": "its status", "content": _STATUS},
                **errors(400, 401, 403, 404, narrower={404: "no transfer of that site from this host"}),
            },
        },
    },
    "/v1/transfer/token": {
        "post": {
            "summary": "Mint the token for receiving one site (panel token only, on the receiving host)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string", "pattern": f"^{NAME_PATTERN}$"},
                                "ttl": {"type": "integer", "minimum": 1, "maximum": MAX_TTL, "default": 900},
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "the token, its expiry and the transfer's id here",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["transfer", "token", "expires"],
                                "properties": {
                                    "transfer": {"type": "string"},
                                    "token": {"type": "string"},
                                    "expires": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                **errors(400, 401, 403, 409, 413, narrower={409: "a container has the name here"}),
            },
        },
    },
    "/v1/transfer/receive": {
        "put": {
            "summary": "(sending host, transfer token) Create the site here, not started",
            "requestBody": {"required": True, "content": _OBJECT},
            "responses": {
                "201": {"description": "made: its id and port root", "content": _OBJECT},
                **errors(400, 401, 403, 404, 409, 413, 502, 503, narrower=_RECEIVING),
            },
        },
        "delete": {
            "summary": "(sending host, transfer token) Remove what this transfer made here",
            "responses": {
                "204": {"description": "removed"},
                **errors(401, 403, 404, 409, 503, narrower=_RECEIVING),
            },
        },
    },
    "/v1/transfer/receive/data": {
        "put": {
            "summary": "(sending host, transfer token) One pass of the site's files, as a backup archive",
            "parameters": [
                {"name": "pass", "in": "query", "required": True, "schema": {"type": "integer", "enum": [1, 2]}}
            ],
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {
                "200": {"description": "extracted", "content": _OBJECT},
                **errors(400, 401, 403, 404, 409, 413, 502, 503, narrower=_RECEIVING),
            },
        },
    },
    "/v1/transfer/receive/commit": {
        "post": {
            "summary": "(sending host, transfer token) Apply the final pass's deletions and start the site",
            "requestBody": {"required": True, "content": _OBJECT},
            "responses": {
                "200": {"description": "the site is this host's", "content": _OBJECT},
                **errors(400, 401, 403, 404, 409, 413, 502, 503, narrower=_RECEIVING),
            },
        },
    },
}

SCHEMAS = {
    "TransferRequest": {
        "type": "object",
        "required": ["to", "token"],
        "properties": {
            "to": {
                "type": "string",
                "pattern": f"^{URL_PATTERN}$",
                "description": "the receiving host's base URL, http(s)://host[:port]",
            },
            "token": {
                "type": "string",
                "pattern": f"^{TOKEN_PATTERN}$",
                "description": "the token the receiving host minted for this site",
            },
        },
    },
    "TransferStatus": {
        "type": "object",
        "required": ["name", "container", "to", "state", "phase", "started"],
        "properties": {
            "name": {"type": "string"},
            "container": {"type": "string", "description": "its full id on this host"},
            "to": {"type": "string"},
            "state": {"enum": ["running", "done", "failed"]},
            "phase": {
                "enum": [
                    "preparing",
                    "copying",
                    "stopping",
                    "final",
                    "committing",
                    "committed",
                    "emptying",
                    "done",
                    "rolling back",
                    "failed",
                ]
            },
            "was_running": {"type": "boolean"},
            "started": {"type": "number"},
            "finished": {"type": "number"},
            "stopped_at": {"type": "number"},
            "downtime": {"type": ["number", "null"], "description": "seconds from the stop here to its start there"},
            "receiver": {
                "type": "object",
                "description": "the site on the receiving host: id, host_port_root (returned to the panel), state",
            },
            "passes": {"type": "array", "items": {"type": "object"}},
            "error": {"type": ["string", "null"]},
        },
    },
}
