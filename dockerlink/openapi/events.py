"""The journal's path (`/v1/events`), a container's output (`/v1/container/logs`) and the
event schemas."""

from __future__ import annotations

from ..engine import CONTAINER_PATTERN
from ..events.feed import MAX_LIMIT, MAX_WAIT
from ..events.logs import MAX_BODY, MAX_TAIL
from .statuses import TEXT_PLAIN, errors

__all__ = ["PATHS", "SCHEMAS"]

_MALFORMED = "a malformed parameter (named)"

PATHS = {
    "/v1/events": {
        "get": {
            "summary": "The journal of what happened to dockerlink's containers",
            "description": (
                "Events in `seq` order after the cursor `since`: created, started, stopped (`detail.by`: dockerlink "
                "or other), died (`exit_code`, `crash`: nobody asked, `oom_killed`), oom (`source`: engine, or "
                "cgroup for a process killed inside a container that kept running), restarted (by the restart "
                "policy, `count`), resized, deleted. Kept `events_days` days. Pass the answer's `next` as the next "
                "`since`. With `wait`, the answer comes as soon as a matching event exists, or after `wait` seconds "
                "with none; each parked wait holds a server thread, so past the worker's free slots the answer is "
                "429 with Retry-After. A scoped token revoked or expired while its wait is parked ends it with a 401."
            ),
            "parameters": [
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**62},
                },
                {
                    "name": "id",
                    "in": "query",
                    "required": False,
                    "description": (
                        "that container's events only, by its full id: a name or prefix names the container that "
                        "has it now (never an earlier one's events; 404 when none has it); a full id also names a "
                        "deleted container. A scoped token: its own container's, also without `id`"
                    ),
                    "schema": {"type": "string", "pattern": f"^{CONTAINER_PATTERN}$"},
                },
                {
                    "name": "type",
                    "in": "query",
                    "required": False,
                    "description": "event types, repeated or comma-separated",
                    "schema": {"type": "string", "pattern": "^[a-z][a-z_]{0,31}(,[a-z][a-z_]{0,31})*$"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
                },
                {
                    "name": "wait",
                    "in": "query",
                    "required": False,
                    "description": "seconds to wait for a matching event",
                    "schema": {"type": "integer", "minimum": 0, "maximum": int(MAX_WAIT), "default": 0},
                },
            ],
            "responses": {
                "200": {
                    "description": "events and the next cursor",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventPage"}}},
                },
                **errors(
                    400,
                    401,
                    403,
                    404,
                    429,
                    502,
                    503,
                    narrower={
                        400: _MALFORMED,
                        403: "a scoped token naming another container",
                        404: "no container has that name or prefix now",
                        502: "unexpected engine error while looking up a name or prefix",
                        503: "the engine is unreachable (to look up a name or prefix)",
                    },
                ),
            },
        }
    },
    "/v1/container/logs": {
        "get": {
            "summary": "A container's recent output",
            "description": (
                "stdout and stderr, merged in time order (the engine's timestamps), at most "
                f"{MAX_BODY // 2**20} MiB: past that the newest part is kept and a last line says what was cut. "
                "Only containers dockerlink created."
            ),
            "parameters": [
                {
                    "name": "id",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "pattern": f"^{CONTAINER_PATTERN}$"},
                },
                {
                    "name": "tail",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TAIL, "default": 100},
                },
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "description": "unix seconds",
                    "schema": {"type": "number", "minimum": 0, "maximum": 1e12},
                },
                {
                    "name": "timestamps",
                    "in": "query",
                    "required": False,
                    "description": "prefix each line with its RFC 3339 time",
                    "schema": {"type": "boolean", "default": False},
                },
            ],
            "responses": {
                "200": {"description": "the output", "content": TEXT_PLAIN},
                **errors(
                    400,
                    401,
                    403,
                    404,
                    503,
                    narrower={
                        400: _MALFORMED,
                        403: "not a container dockerlink created",
                        503: "the engine is unreachable",
                    },
                ),
            },
        }
    },
}

SCHEMAS = {
    "EventPage": {
        "type": "object",
        "required": ["events", "next"],
        "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
            "next": {"type": "integer", "description": "pass as `since` next time"},
        },
    },
    "Event": {
        "type": "object",
        "required": ["seq", "time", "id", "name", "type", "detail"],
        "properties": {
            "seq": {"type": "integer", "description": "strictly increasing"},
            "time": {"type": "number", "description": "unix seconds"},
            "id": {"type": "string", "description": "the container's full id"},
            "name": {"type": "string"},
            "type": {"type": "string"},
            "detail": {"type": "object"},
        },
    },
}
