"""`GET /v1/events` (the journal, with a cursor and long-poll) and `GET /v1/container/logs`."""

from __future__ import annotations

import falcon

from ..engine import CONTAINER_PATTERN
from ..events.feed import MAX_LIMIT, MAX_WAIT, Feed, check_types
from ..events.logs import MAX_BODY, MAX_TAIL, merge
from ..events.waiting import Waiters, default_slots
from ..openapi import TEXT_PLAIN
from ..ownership import require_owned
from ..services import Services
from . import params

__all__ = ["routes", "OPENAPI_PATHS", "OPENAPI_SCHEMAS"]


class Events:
    def __init__(self, services: Services) -> None:
        journal = services.journal
        self._feed = Feed(journal, Waiters(journal.last_seq, default_slots()))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = self._feed.read(
            params.integer(req, "since", 0) or 0,
            ref=params.optional_container_id(req),
            types=check_types(req.get_param_as_list("type") or []),
            limit=params.integer(req, "limit", 100, lo=1, hi=MAX_LIMIT) or 100,
            wait=float(params.integer(req, "wait", 0, hi=int(MAX_WAIT)) or 0),
        )
        resp.media = page.to_json()


class ContainerLogs:
    def __init__(self, services: Services) -> None:
        self._containers = services.engine.containers

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ref = params.container_id(req)
        tail = params.integer(req, "tail", 100, hi=MAX_TAIL)
        since = params.number(req, "since")
        timestamps = params.flag(req, "timestamps")
        container = require_owned(self._containers.inspect(ref))
        frames = self._containers.logs(container.id, tail=tail, since=since, timestamps=True)
        resp.content_type = falcon.MEDIA_TEXT
        resp.data = merge(frames, timestamps=timestamps, budget=MAX_BODY)


def routes(services: Services) -> list[tuple[str, object]]:
    return [("/v1/events", Events(services)), ("/v1/container/logs", ContainerLogs(services))]


_ERRORS = {
    "401": {"description": "missing or wrong token", "content": TEXT_PLAIN},
}

OPENAPI_PATHS = {
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
                "429 with Retry-After."
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
                    "description": "full id, id prefix or name",
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
                "400": {"description": "a malformed parameter (named)", "content": TEXT_PLAIN},
                **_ERRORS,
                "429": {"description": "every long-poll slot of the worker is taken", "content": TEXT_PLAIN},
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
                "400": {"description": "a malformed parameter (named)", "content": TEXT_PLAIN},
                **_ERRORS,
                "403": {"description": "not a container dockerlink created", "content": TEXT_PLAIN},
                "404": {"description": "no such container", "content": TEXT_PLAIN},
                "503": {"description": "the engine is unreachable", "content": TEXT_PLAIN},
            },
        }
    },
}

OPENAPI_SCHEMAS = {
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
