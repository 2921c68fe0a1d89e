"""`GET /v1/container/stats`: a container's resource history (SPEC §3)."""

from __future__ import annotations

import falcon

from ..backups.disk import read_usage, with_latest_disk
from ..engine import CONTAINER_PATTERN
from ..openapi import TEXT_PLAIN
from ..services import Services
from ..stats.history import parse_scale, parse_since, resolve
from ..stats.store import SCALES
from . import params

__all__ = ["routes", "OPENAPI_PATHS", "OPENAPI_SCHEMAS"]


class ContainerStats:
    def __init__(self, services: Services) -> None:
        self._containers = services.engine.containers
        self._store = services.store
        self._config = services.config

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ref = params.container_id(req)
        since = parse_since(params.text(req, "since"))
        scale = parse_scale(params.text(req, "scale"))
        container_id = resolve(self._containers, self._store, ref)
        resp.content_type = falcon.MEDIA_JSON
        history = self._store.history_json(container_id, since=since, scale=scale)
        resp.text = with_latest_disk(history, read_usage(self._config).get(container_id))


def routes(services: Services) -> list[tuple[str, object]]:
    return [("/v1/container/stats", ContainerStats(services))]


OPENAPI_PATHS = {
    "/v1/container/stats": {
        "get": {
            "summary": "Resource history of a container",
            "description": (
                "Samples every `stats_interval` seconds for 4 hours, one point per 2 minutes for a day, one per "
                "20 minutes for a week (a point holds the mean CPU and memory of its window and the sum of its net "
                "deltas). Keys are unix seconds, ascending. Only containers dockerlink created are sampled. A name "
                "or id prefix is resolved by the engine to the container that has it now; the history of a "
                "container that no longer exists is answered for its full id only."
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
                "400": {
                    "description": "malformed id, since or scale, or an ambiguous id prefix",
                    "content": TEXT_PLAIN,
                },
                "401": {"description": "missing or wrong token", "content": TEXT_PLAIN},
                "404": {"description": "no such container, and no history under that id", "content": TEXT_PLAIN},
                "503": {
                    "description": "the engine is unreachable (needed to resolve a name or prefix)",
                    "content": TEXT_PLAIN,
                },
            },
        }
    }
}

OPENAPI_SCHEMAS = {
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
