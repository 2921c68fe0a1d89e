"""How much room the host has (`/v1/capacity`)."""

from __future__ import annotations

from .statuses import errors

__all__ = ["PATHS", "SCHEMAS"]

PATHS = {
    "/v1/capacity": {
        "get": {
            "summary": "How much room this host has: cores, memory, the sites' limits and use, disk, port areas",
            "description": (
                "committed: the sum of every site's limits (running or not), a site without a limit counted as "
                "the whole host; used: the stats collector's last round (`at`, unix seconds; null before the "
                "first). disk.volumes is measured only when the engine runs on this host (else its numbers are "
                "null). Panel token only."
            ),
            "responses": {
                "200": {
                    "description": "the host's room",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Capacity"}}},
                },
                **errors(401, 403, 502, 503, narrower={403: "a scoped token"}),
            },
        }
    },
}

_FIGURES = {"cores": {"type": "number"}, "memory_bytes": {"type": "integer"}}
_DISK = {
    "type": "object",
    "required": ["path", "total_bytes", "free_bytes"],
    "properties": {
        "path": {"type": ["string", "null"]},
        "total_bytes": {"type": ["integer", "null"]},
        "free_bytes": {"type": ["integer", "null"], "description": "what an unprivileged writer may still use"},
    },
}

SCHEMAS = {
    "Capacity": {
        "type": "object",
        "required": ["host", "sites", "committed", "used", "disk", "ports"],
        "properties": {
            "host": {"type": "object", "required": ["cores", "memory_bytes"], "properties": _FIGURES},
            "sites": {
                "type": "object",
                "required": ["count", "running"],
                "properties": {"count": {"type": "integer"}, "running": {"type": "integer"}},
            },
            "committed": {"type": "object", "required": ["cores", "memory_bytes"], "properties": _FIGURES},
            "used": {
                "type": "object",
                "required": ["cores", "memory_bytes", "at"],
                "properties": {**_FIGURES, "at": {"type": ["number", "null"]}},
            },
            "disk": {
                "type": "object",
                "required": ["volumes", "backups"],
                "properties": {"volumes": _DISK, "backups": _DISK},
            },
            "ports": {
                "type": "object",
                "required": ["area_size", "areas_free", "lowest_free_root"],
                "properties": {
                    "area_size": {"type": "integer"},
                    "areas_free": {"type": "integer", "description": "areas that still fit between the taken ones"},
                    "lowest_free_root": {"type": ["integer", "null"]},
                },
            },
        },
    },
}
