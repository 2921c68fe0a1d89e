"""Backup endpoints: take, list, download, upload, delete, restore (SPEC §6.3)."""

from __future__ import annotations

import falcon

from ..backups import Backups, Restorer, check_backup_id
from ..services import Services
from . import params

__all__ = ["routes", "SHA256_HEADER"]

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
        record = self._backups.upload(_name(req, self._backups), params.body_stream(req), req.content_length)
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
        ("/v1/container/restore", Restore(backups, Restorer(services.engine, backups.catalog, services.config))),
    ]
