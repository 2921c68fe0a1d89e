"""Backup endpoints: take, list, download, upload, delete, restore (docs/contract.md §6.3)."""

from __future__ import annotations

import falcon

from ..backups import Backups, Restorer, check_backup_id
from ..backups.catalog import check_site_name
from ..events.hooks import backup_events
from ..services import Services
from . import params
from .auth import grant_of

__all__ = ["routes", "SHA256_HEADER"]

SHA256_HEADER = "X-Backup-Sha256"


def _name(req: falcon.Request, field: str = "name", required: bool = True) -> str | None:
    value = params.text(req, field, required=required)
    return None if value is None else check_site_name(value, field)


def _backup(req: falcon.Request) -> str:
    return check_backup_id(params.text(req, "backup", required=True))


class Backup:
    def __init__(self, backups: Backups) -> None:
        self._backups = backups

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_202
        target = params.text(req, "target", required=False)
        resp.media = {"backup": self._backups.start(params.container_id(req), target)}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        download = self._backups.download(_name(req), _backup(req))
        resp.content_type = "application/zstd"
        resp.set_header(SHA256_HEADER, download.sha256)
        resp.downloadable_as = download.path.rsplit("/", 1)[-1]
        resp.set_stream(download.open(), download.size)

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        record = self._backups.upload(_name(req), params.body_stream(req), req.content_length)
        resp.status = falcon.HTTP_201
        resp.media = record.public()

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._backups.remove(_name(req), _backup(req))
        resp.status = falcon.HTTP_204


class BackupList:
    def __init__(self, backups: Backups) -> None:
        self._backups = backups

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """`id`: that container's backups; `name`: every backup listed under the name (of each
        container that had it: a deleted site's); neither: all."""
        ref, name = params.optional_container_id(req), _name(req, required=False)
        if ref:
            site = self._backups.site(ref)
            listed = self._backups.list(site.name, container=site.id)
        else:
            names = [name] if name else self._backups.catalog.names()
            listed = [b for n in names for b in self._backups.list(n)]
        resp.media = {"backups": listed}


class Restore:
    def __init__(self, backups: Backups, restorer: Restorer) -> None:
        self._backups = backups
        self._restorer = restorer

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """A scoped token restores into the container auth checked (its grant's, by full id)."""
        grant = grant_of(req)
        site = self._backups.site(grant.container_id if grant else params.container_id(req))
        backup, source = _backup(req), _name(req, "from", required=False)
        running = self._restorer.restore(site, backup, source, scoped=grant is not None)
        resp.media = {"restored": backup, "running": running}


def routes(services: Services) -> list[tuple[str, object]]:
    backups = Backups(services.engine, services.config, backup_events(services.journal))
    return [
        ("/v1/container/backup", Backup(backups)),
        ("/v1/container/backups", BackupList(backups)),
        ("/v1/container/restore", Restore(backups, Restorer(services.engine, backups.catalog, services.config))),
    ]
