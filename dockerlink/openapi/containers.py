"""The container paths (list, create, delete, resize, start/stop/restart, isolate) and schemas; the
create and resize bodies take this host's port area (`bounded_schemas`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import Config
from ..engine import CONTAINER_PATTERN, IMAGE_PATTERN
from ..hosting import MAX_COMMAND_LENGTH, MAX_COMMANDS, NAME_PATTERN
from ..hosting.limits import GIB, MAX_CPU, MAX_MEMORY, MIN_CPU, MIN_MEMORY
from ..hosting.ports import MAX_PORTS, MIN_ROOT, max_root, port_pattern
from ..resources.containers import MAX_IDS, MAX_STOP_SECONDS
from .statuses import errors as _errors

__all__ = ["PATHS", "SCHEMAS", "bounded_schemas"]


_ID_REQUIRED = {
    "name": "id",
    "in": "query",
    "required": True,
    "description": "full id, unique prefix, or name",
    "schema": {"type": "string", "pattern": f"^{CONTAINER_PATTERN}$"},
}
_T = {
    "name": "t",
    "in": "query",
    "description": "seconds before kill",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_STOP_SECONDS, "default": 10},
}
_BOOL = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]}


def _action(summary: str, with_t: bool) -> dict:
    return {
        "post": {
            "summary": summary,
            "parameters": [_ID_REQUIRED, *([_T] if with_t else [])],
            "responses": {"204": {"description": "done (or already so)"}, **_errors(400, 401, 403, 404, 409, 502, 503)},
        }
    }


PATHS = {
    "/v1/container": {
        "get": {
            "summary": "Describe containers (all, running ones, not running ones, or by id)",
            "description": (
                "`running=true`: only running containers; `running=false`: only the others; absent: all (ignored "
                "with `id`). Only an id that does not exist (or is malformed) lands in `error`; any other failure "
                "fails the whole request (502/503). `name` is Docker's, with its leading slash."
            ),
            "parameters": [
                {
                    "name": "id",
                    "in": "query",
                    "style": "form",
                    "explode": True,
                    "schema": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_IDS},
                },
                {"name": "running", "in": "query", "schema": _BOOL},
            ],
            "responses": {
                "200": {
                    "description": "per-id results",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ContainerList"}}},
                },
                **_errors(400, 401, 502, 503),
            },
        },
        "put": {
            "summary": "Create a hosting container (created, not started, unless start=true)",
            "parameters": [{"name": "start", "in": "query", "schema": _BOOL}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateContainer"}}},
            },
            "responses": {
                "200": {
                    "description": "created (200, as the original: the PHP panel takes anything else for a failure)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}},
                },
                **_errors(400, 401, 409, 413, 502, 503),
            },
        },
        "delete": {
            "summary": "Stop and remove a container and its /var/www volume (after a final backup when "
            "backup_on_delete; 502 and nothing deleted if that backup fails)",
            "description": "The volume is kept with `volumes=false` or `deletevolume=false`.",
            "parameters": [
                _ID_REQUIRED,
                {"name": "volumes", "in": "query", "schema": _BOOL},
                {"name": "deletevolume", "in": "query", "schema": _BOOL},
            ],
            "responses": {"204": {"description": "removed"}, **_errors(400, 401, 403, 404, 409, 502, 503)},
        },
        "patch": {
            "summary": "Change memory and/or CPU limits, live (0: no limit)",
            "description": (
                "`cpulimit: 0` removes the CPU limit. The engine cannot remove a memory limit, so `memory: 0` sets "
                "the host's total memory, with a line in `warning` saying so."
            ),
            "parameters": [_ID_REQUIRED],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Resize"}}},
            },
            "responses": {
                "200": {
                    "description": "applied",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Warnings"}}},
                },
                **_errors(400, 401, 403, 404, 409, 413, 502, 503),
            },
        },
    },
    "/v1/container/start": _action("Start (a running container is a 204 too)", with_t=False),
    "/v1/container/stop": _action("Stop (a stopped container is a 204 too)", with_t=True),
    "/v1/container/restart": _action("Restart", with_t=True),
    "/v1/container/isolate": {
        "post": {
            "summary": "Move a site made before the site network onto it (isolated: false -> true)",
            "description": (
                "Joins the site network, then leaves every other network (the engine's default bridge). The id, "
                "data, limits and published ports stay; a running site gets a new address. Already isolated: "
                "nothing changes (`moved: false`)."
            ),
            "parameters": [_ID_REQUIRED],
            "responses": {
                "200": {
                    "description": "isolated",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Isolated"}}},
                },
                **_errors(400, 401, 403, 404, 502, 503),
            },
        }
    },
}

SCHEMAS = {
    "Container": {
        "type": "object",
        "required": ["id", "name", "host_port_root", "dockerlink", "ports", "state"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string", "description": "Docker's form, with its leading slash: /site1"},
            "host_port_root": {"type": ["integer", "null"]},
            "dockerlink": {"type": "string"},
            "ports": {"type": "object", "additionalProperties": {"type": "object"}},
            "state": {
                "type": "string",
                "enum": ["running", "exited", "paused", "restarting", "removing", "dead", "created"],
            },
            "exit_code": {"type": ["integer", "null"]},
            "started_at": {"type": ["integer", "null"]},
            "urls": {
                "type": "object",
                "description": "with site_domain set: the site's and its web terminal's addresses",
                "properties": {"site": {"type": "string"}, "terminal": {"type": "string"}},
            },
            "tls": {"type": "string", "description": "none, pending, ok or failed: <reason>"},
            "isolated": {
                "type": "boolean",
                "description": "dockerlink's sites: on the site network alone (false: made before it; see isolate)",
            },
            "restart_count": {"type": "integer", "description": "restarts by the restart policy"},
            "oom_killed": {"type": "boolean", "description": "the last exit was the OOM killer's"},
            "oom_kills": {"type": "integer", "description": "processes the OOM killer took since the start"},
            "last_exit": {
                "type": ["object", "null"],
                "description": "the last exit: code and unix time; null if it never exited",
                "properties": {"code": {"type": ["integer", "null"]}, "at": {"type": "number"}},
            },
            "last_backup": {
                "type": ["integer", "null"],
                "description": "unix time the site's last good backup was started; null: it has none",
            },
            "disk": {
                "type": "object",
                "description": "last measure of /var/www (every disk_interval): GiB, entries, unix time",
                "properties": {
                    "used": {"type": "number"},
                    "files": {"type": ["integer", "null"]},
                    "at": {"type": "integer"},
                },
            },
        },
    },
    "Isolated": {
        "type": "object",
        "required": ["id", "isolated", "moved"],
        "properties": {"id": {"type": "string"}, "isolated": {"type": "boolean"}, "moved": {"type": "boolean"}},
    },
    "ContainerList": {
        "type": "object",
        "required": ["error", "success"],
        "properties": {
            "error": {"type": "object", "additionalProperties": {"type": "string"}},
            "success": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Container"}},
        },
    },
    "Created": {
        "type": "object",
        "required": ["Id", "warning"],
        "properties": {
            "Id": {"type": "string"},
            "warning": {"type": "array", "items": {"type": "string"}},
            "password": {"type": "string", "description": "generated when neither password nor ssh_keys was given"},
        },
    },
    "Warnings": {
        "type": "object",
        "required": ["warning"],
        "properties": {"warning": {"type": "array", "items": {"type": "string"}}},
    },
}


_DISK = {
    "type": ["number", "null"],
    "minimum": 0,
    "maximum": 1_000_000,
    "description": "disk quota, GiB (0 or null: none); crossing it raises disk_over, then disk_ok",
}


def bounded_schemas(bounds: Mapping[str, Any]) -> dict[str, Any]:
    """Create and resize bodies, with this host's bounds where known."""
    size = int(bounds.get("port_area_size", Config.port_area_size))
    memory = {
        "description": f"GiB; 0: no limit, else at least {MIN_MEMORY / GIB:.4f} (6 MiB)",
        "oneOf": [{"const": 0}, {"type": "number", "minimum": MIN_MEMORY / GIB, "maximum": MAX_MEMORY / GIB}],
    }
    cpulimit: dict[str, Any] = {
        "description": "cores; 0: no limit, else at least 0.01 (above the host's cores: accepted, with a warning)",
        "oneOf": [{"const": 0}, {"type": "number", "minimum": MIN_CPU, "maximum": MAX_CPU}],
    }
    return {
        "CreateContainer": {
            "type": "object",
            "description": "Also takes the site owner's login: password and ssh_keys, as in Access "
            "(with neither, a random password is made and answered once as password).",
            "required": ["name", "host_port_root", "memory", "cpulimit"],
            "properties": {
                "name": {"type": "string", "pattern": f"^{NAME_PATTERN}$"},
                "host_port_root": {"type": "integer", "minimum": MIN_ROOT, "maximum": max_root(size)},
                "memory": memory,
                "cpulimit": cpulimit,
                "ports": {
                    "type": "array",
                    "maxItems": MAX_PORTS,
                    "description": f'"<port>/<tcp|udp>" or a bare number (tcp); every port below {size}',
                    "items": {
                        "oneOf": [
                            {"type": "string", "pattern": port_pattern(size)},
                            {"type": "integer", "minimum": 1, "maximum": size - 1},
                        ]
                    },
                },
                "image": {"type": "string", "pattern": f"^(?:{IMAGE_PATTERN})$"},
                "disk": _DISK,
                "commands": {
                    "type": "array",
                    "maxItems": MAX_COMMANDS,
                    "items": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_COMMAND_LENGTH,
                        "pattern": "^[^\\x00]*[^\\s\\x00][^\\x00]*$",  # \S alone would let one NUL in
                    },
                },
            },
        },
        "Resize": {
            "type": "object",
            "minProperties": 1,
            "properties": {"memory": memory, "cpulimit": cpulimit, "disk": _DISK},
        },
    }
