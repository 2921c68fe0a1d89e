"""The backup paths: take, list, download, upload, delete, restore."""

from __future__ import annotations

from ..backups import BACKUP_ID_PATTERN
from ..engine import CONTAINER_PATTERN
from ..hosting import NAME_PATTERN
from ..resources.backups import SHA256_HEADER
from .statuses import errors

__all__ = ["PATHS", "SCHEMAS"]

#: What a backup endpoint's errors mean, where narrower than the shared table's.
_NARROWER = {
    400: "malformed input, or an upload that is not a site backup (the message says which)",
    403: "not a dockerlink container; or a scoped token restoring a backup that is not its container's",
    404: "no such container or backup",
    409: "a backup or restore of this site is already running; or a restore of another container's backup "
    "without `from`; or the restic repository stayed busy (another dockerlink process held it); or "
    "target=restic on a host without restic_repository",
    413: "upload over backup_max; a backup expanding past restore_max_expanded (or, for a restore, the site's "
    "disk quota): nothing changed",
    502: "the backup or restore failed (nothing was changed), restic failed (its reason, one line), or an "
    "unexpected engine error",
}


def _errors(*codes: int) -> dict[str, dict]:
    return errors(*codes, narrower=_NARROWER)


def _param(name: str, pattern: str, required: bool, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string", "pattern": f"^{pattern}$"},
    }


_NULLABLE_NUMBER = {"type": ["number", "null"]}
_BACKUP_SCHEMA = {
    "type": "object",
    "required": ["backup", "name", "kind", "state", "started"],
    "properties": {
        "backup": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["manual", "scheduled", "final", "uploaded"]},
        "state": {"type": "string", "enum": ["running", "done", "failed"]},
        "container": {
            "type": ["string", "null"],
            "description": "full id of the container it belongs to (taken from, or uploaded for); null: none",
        },
        "started": {"type": "number"},
        "finished": _NULLABLE_NUMBER,
        "size": {"type": ["integer", "null"], "description": "bytes of the compressed file"},
        "sha256": {"type": ["string", "null"]},
        "read": {"type": "integer", "description": "bytes of the site's tar read so far"},
        "error": {"type": ["string", "null"]},
        "compression": {"type": "string", "description": "zstd (a local backup's file); restic"},
        "target": {"type": "string", "enum": ["local", "restic"]},
        "snapshot": {"type": ["string", "null"], "description": "restic: the snapshot's short id"},
        "source": {
            "type": ["string", "null"],
            "enum": ["files", "stream", None],
            "description": "restic: the volume's files (on the engine's host) or the engine's archive stream",
        },
        "added": {"type": ["integer", "null"], "description": "restic: bytes the repository grew by"},
    },
}

_ID = _param("id", CONTAINER_PATTERN, True, "full id, unique prefix, or name of the site")
_TARGET = {
    "name": "target",
    "in": "query",
    "required": False,
    "description": "local (backup_dir) or restic (the restic repository; 409 where it is not set up); "
    "default: the host's backup_target",
    "schema": {"type": "string", "enum": ["local", "restic"]},
}
_ID_OR_NAME = [
    _param("id", CONTAINER_PATTERN, False, "the site (a live one): its own backups, by full id"),
    _param(
        "name",
        NAME_PATTERN,
        False,
        "every backup listed under the name, of each container that had it (a deleted site's too); "
        "neither: every site's",
    ),
]
_FROM = _param(
    "from",
    NAME_PATTERN,
    False,
    "the panel's word that the backup is another container's (an earlier site of the same name, another "
    "site, an upload made while no site had the name): the site name it is listed under. Without it only "
    "the site's own backups (taken from its full id) are restored; a scoped token cannot send it (403)",
)
_NAME = [_param("name", NAME_PATTERN, True, "the site's name (also of a deleted site)")]
_BACKUP = _param("backup", BACKUP_ID_PATTERN, True, "backup id")
_RECORD = {"application/json": {"schema": _BACKUP_SCHEMA}}

PATHS = {
    "/v1/container/backup": {
        "post": {
            "summary": "Start a backup of the site's /var/www (in the background; see /v1/container/backups)",
            "parameters": [_ID, _TARGET],
            "responses": {
                "202": {
                    "description": "started",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["backup"],
                                "properties": {"backup": {"type": "string"}},
                            }
                        }
                    },
                },
                **_errors(400, 401, 403, 404, 409, 502, 503),
            },
        },
        "get": {
            "summary": f"Download a backup (zstd-compressed tar; its sha256 in {SHA256_HEADER})",
            "parameters": [*_NAME, _BACKUP],
            "responses": {
                "200": {"description": "the archive", "content": {"application/zstd": {"schema": {"type": "string"}}}},
                **_errors(400, 401, 403, 404, 502, 503),
            },
        },
        "put": {
            "summary": "Upload a backup (a zstd-compressed tar of www/, as downloaded), e.g. from another host",
            "parameters": _NAME,
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {
                "201": {"description": "stored", "content": _RECORD},
                **_errors(400, 401, 403, 404, 413, 502, 503),
            },
        },
        "delete": {
            "summary": "Delete a backup",
            "parameters": [*_NAME, _BACKUP],
            "responses": {"204": {"description": "removed"}, **_errors(400, 401, 403, 404, 409, 502, 503)},
        },
    },
    "/v1/container/backups": {
        "get": {
            "summary": "A site's backups (or every site's), newest first, with the progress of one running",
            "parameters": _ID_OR_NAME,
            "responses": {
                "200": {
                    "description": "the backups",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["backups"],
                                "properties": {
                                    "backups": {"type": "array", "items": _BACKUP_SCHEMA},
                                },
                            }
                        }
                    },
                },
                **_errors(400, 401, 403, 404, 503),
            },
        },
    },
    "/v1/container/restore": {
        "post": {
            "summary": "Restore a backup into the site, in place (same id); stopped meanwhile, started again if it ran",
            "parameters": [_ID, _BACKUP, _FROM],
            "responses": {
                "200": {
                    "description": "restored",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["restored", "running"],
                                "properties": {"restored": {"type": "string"}, "running": {"type": "boolean"}},
                            }
                        }
                    },
                },
                **_errors(400, 401, 403, 404, 409, 413, 502, 503),
            },
        },
    },
}

SCHEMAS: dict = {}
