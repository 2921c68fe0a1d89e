"""The service's paths (health, env, this document) and schemas."""

from __future__ import annotations

from .statuses import errors

__all__ = ["PATHS", "SCHEMAS"]

PATHS = {
    "/v1/health": {
        "get": {
            "summary": "Engine version, age of the last stats sample, what is wrong if anything (no token needed)",
            "security": [],
            "responses": {
                "200": {
                    "description": "healthy",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
                },
                "503": {
                    "description": "engine unreachable, stats collector stopped or hung, a collector job dead, "
                    "or stats history unreadable",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
                },
            },
        }
    },
    "/v1/env": {
        "get": {
            "summary": "Settings a panel needs to plan containers",
            "responses": {
                "200": {
                    "description": "settings",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Env"}}},
                },
                **errors(401),
            },
        }
    },
    "/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
                **errors(401),
            },
        }
    },
}

SCHEMAS = {
    "Health": {
        "type": "object",
        "required": ["dockerlink", "engine", "status", "last_sample_age"],
        "properties": {
            "dockerlink": {"type": "string"},
            "engine": {"type": ["string", "null"]},
            "status": {"type": "string"},
            "message": {"type": "string"},
            "last_sample_age": {"type": ["number", "null"]},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "stats_reset": {
                "type": "object",
                "description": "the stats history restarted empty after corruption; the old file is kept",
                "properties": {"at": {"type": "number"}, "moved_to": {"type": "string"}},
            },
            "events": {"type": "object", "properties": {"last_seq": {"type": "integer"}}},
            "jobs": {
                "type": "object",
                "description": "each job of the collector by name, as it last wrote it (a dead one makes it degraded)",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "state": {"type": "string", "enum": ["starting", "running", "dead", "done", "stopped"]},
                        "restarts": {"type": "integer"},
                        "error": {"type": "string"},
                    },
                },
            },
            "webhooks": {
                "type": "object",
                "description": "with webhook_url set: events not yet delivered, and the age in seconds of the oldest",
                "properties": {"backlog": {"type": "integer"}, "oldest_age": {"type": ["number", "null"]}},
            },
        },
    },
    "Env": {
        "type": "object",
        "required": ["port_area_size", "base_image", "stats_interval", "version"],
        "properties": {
            "port_area_size": {"type": "integer"},
            "base_image": {"type": "string"},
            "stats_interval": {"type": "number"},
            "publish_ip": {"type": "string"},
            "git_host": {"type": "boolean"},
            "git_timeout": {"type": "number"},
            "version": {"type": "string"},
        },
    },
}
