"""The stats history's path (`/v1/container/stats`) and sample schemas."""

from __future__ import annotations

from ..engine import CONTAINER_PATTERN
from ..stats.store import SCALES
from .statuses import errors

__all__ = ["PATHS", "SCHEMAS"]

PATHS = {
    "/v1/container/stats": {
        "get": {
            "summary": "Resource history of a container",
            "description": (
                "Samples every `stats_interval` seconds for 4 hours, one point per 2 minutes for a day, one per "
                "20 minutes for a week (a point holds the mean CPU and memory of its window and the sum of its net "
                "deltas). Keys are unix seconds, ascending. Only containers dockerlink created are sampled. A name "
                "or id prefix is resolved by the engine to the container that has it now; the history of a "
                "container that no longer exists is answered for its full id only. Never `{}` for a site dockerlink "
                "created: with no sample in the asked range (a site not sampled yet), one sample at the current "
                "second with zero use and net and the container's limits; with `since` > 0, `{}` while the range "
                "holds samples."
            ),
            "parameters": [
                {
                    "name": "id",
                    "in": "query",
                    "required": True,
                    "description": "full id, unique id prefix, or name",
                    "schema": {"type": "string", "pattern": f"^{CONTAINER_PATTERN}$"},
                },
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "description": "unix seconds; points after it, exclusive, as the original (0 or absent: all)",
                    "schema": {"type": "number", "minimum": 0, "default": 0},
                },
                {
                    "name": "scale",
                    "in": "query",
                    "required": False,
                    "description": "one tier only: instant, hour or 4hours (every sample of the last 4 hours), "
                    "day (2-minute points), week (20-minute points); absent: all tiers merged",
                    "schema": {"type": "string", "enum": list(SCALES)},
                },
            ],
            "responses": {
                "200": {
                    "description": "timestamp (unix seconds, as a string) → sample, ascending",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StatsHistory"}}},
                },
                **errors(
                    400,
                    401,
                    404,
                    503,
                    narrower={
                        400: "malformed id, since or scale, or an ambiguous id prefix",
                        404: "no such container, and no history under that id",
                        503: "the engine is unreachable (needed to resolve a name or prefix)",
                    },
                ),
            },
        }
    }
}

SCHEMAS = {
    "StatsHistory": {
        "type": "object",
        "propertyNames": {"pattern": "^[0-9]+(\\.[0-9]+)?$"},
        "additionalProperties": {"$ref": "#/components/schemas/StatsSample"},
    },
    "StatsSample": {
        "type": "object",
        "description": "A container that is not running gives zeros, limits included.",
        "required": ["memory", "cpu", "net"],
        "properties": {
            "memory": {
                "type": "object",
                "required": ["used", "limit"],
                "properties": {
                    "used": {"type": "number", "description": "GiB, page cache excluded (as docker stats)"},
                    "limit": {"type": "number", "description": "GiB; the host's memory when unlimited"},
                },
            },
            "cpu": {
                "type": "object",
                "required": ["usage_percent", "limit"],
                "properties": {
                    "usage_percent": {"type": "number", "description": "100 = one core"},
                    "limit": {
                        "type": "number",
                        "description": "CpuQuota / CpuPeriod × 100; unlimited: the host's cores × 100",
                    },
                },
            },
            "net": {
                "type": "object",
                "required": ["up", "down", "delta_up", "delta_down"],
                "properties": {
                    "up": {"type": "number", "description": "KiB sent since the container started"},
                    "down": {"type": "number", "description": "KiB received since the container started"},
                    "delta_up": {"type": "number", "minimum": 0, "description": "KiB sent since the previous point"},
                    "delta_down": {
                        "type": "number",
                        "minimum": 0,
                        "description": "KiB received since the previous point",
                    },
                },
            },
        },
    },
}
