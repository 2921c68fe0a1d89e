"""Backup endpoints: take, list, download, upload, delete, restore (SPEC §6.3)."""

from __future__ import annotations

import falcon

from ..backups import BACKUP_ID_PATTERN, Backups, Restorer, check_backup_id
from ..engine import CONTAINER_PATTERN
from ..hosting import NAME_PATTERN
from ..openapi import TEXT_PLAIN
from ..services import Services
from . import params

__all__ = ["routes", "OPENAPI_PATHS", "SHA256_HEADER"]

SHA256_HEADER = "X-Backup-Sha256"


def _name(req: falcon.Request, backups: Backups) -> str:
    return backups.site_name(None, params.text(req, "name", required=True))


def _backup(req: falcon.Request) -> str:
    return check_backup_id(params.text(req, "backup", required=True))


class Backup:
    def __init__(self, backups: Backups) -> None:
        self._backups = backups

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_202
        resp.media = {"backup": self._backups.start(params.container_id(req))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        download = self._backups.download(_name(req, self._backups), _backup(req))
        resp.content_type = "application/zstd"
        resp.set_header(SHA256_HEADER, download.sha256)
        resp.downloadable_as = download.path.rsplit("/", 1)[-1]
        resp.set_stream(open(download.path, "rb"), download.size)

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        record = self._backups.upload(_name(req, self._backups), req.bounded_stream, req.content_length)
        resp.status = falcon.HTTP_201
        resp.media = record.public()

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._backups.remove(_name(req, self._backups), _backup(req))
        resp.status = falcon.HTTP_204


class BackupList:
    def __init__(self, backups: Backups) -> None:
        self._backups = backups

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ref, name = params.optional_container_id(req), params.text(req, "name")
        names = [self._backups.site_name(ref, name)] if ref or name else self._backups.catalog.names()
        resp.media = {"backups": [b for n in names for b in self._backups.list(n)]}


class Restore:
    def __init__(self, backups: Backups, restorer: Restorer) -> None:
        self._backups = backups
        self._restorer = restorer

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._backups.site(params.container_id(req))
        backup = _backup(req)
        resp.media = {"restored": backup, "running": self._restorer.restore(site, backup)}


def routes(services: Services) -> list[tuple[str, object]]:
    backups = Backups(services.engine, services.config)
    return [
        ("/v1/container/backup", Backup(backups)),
        ("/v1/container/backups", BackupList(backups)),
        ("/v1/container/restore", Restore(backups, Restorer(services.engine, backups.catalog))),
    ]


# -- OpenAPI ------------------------------------------------------------------------------

_REASONS = {
    201: "stored",
    204: "removed",
    400: "malformed input, or an upload that is not a site backup (the message says which)",
    401: "missing or wrong token",
    403: "not a dockerlink container",
    404: "no such container or backup",
    409: "a backup or restore of this site is already running",
    413: "upload over backup_max",
    502: "the backup or restore failed (nothing was changed), or an unexpected engine error",
    503: "engine unreachable",
}


def _errors(*codes: int) -> dict[str, dict]:
    return {str(c): {"description": _REASONS[c], "content": TEXT_PLAIN} for c in codes}


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
        "kind": {"type": "string", "enum": ["manual", "final", "uploaded"]},
        "state": {"type": "string", "enum": ["running", "done", "failed"]},
        "container": {"type": ["string", "null"]},
        "started": {"type": "number"},
        "finished": _NULLABLE_NUMBER,
        "size": {"type": ["integer", "null"], "description": "bytes of the compressed file"},
        "sha256": {"type": ["string", "null"]},
        "read": {"type": "integer", "description": "bytes of the site's tar read so far"},
        "error": {"type": ["string", "null"]},
        "compression": {"type": "string"},
    },
}

_ID = _param("id", CONTAINER_PATTERN, True, "full id, unique prefix, or name of the site")
_ID_OR_NAME = [
    _param("id", CONTAINER_PATTERN, False, "the site (a live one)"),
    _param("name", NAME_PATTERN, False, "the site's name (also of a deleted site); neither: every site's"),
]
_NAME = [_param("name", NAME_PATTERN, True, "the site's name (also of a deleted site)")]
_BACKUP = _param("backup", BACKUP_ID_PATTERN, True, "backup id")
_RECORD = {"application/json": {"schema": _BACKUP_SCHEMA}}

OPENAPI_PATHS = {
    "/v1/container/backup": {
        "post": {
            "summary": "Start a backup of the site's /var/www (in the background; see /v1/container/backups)",
            "parameters": [_ID],
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
                **_errors(400, 401, 403, 404, 503),
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
                **_errors(400, 401, 403, 404, 413, 503),
            },
        },
        "delete": {
            "summary": "Delete a backup",
            "parameters": [*_NAME, _BACKUP],
            "responses": {"204": {"description": "removed"}, **_errors(400, 401, 403, 404, 503)},
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
            "parameters": [_ID, _BACKUP],
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
                **_errors(400, 401, 403, 404, 409, 502, 503),
            },
        },
    },
}
