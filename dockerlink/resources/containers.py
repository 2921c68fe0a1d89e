"""Container endpoints: list, create, delete, resize, start/stop/restart (docs/contract.md §3.1)."""

from __future__ import annotations

import falcon

from ..backups import final_backup
from ..backups.disk import Quotas, read_usage, with_disk
from ..backups.freshness import LastBackups, with_last_backup
from ..errors import InvalidInput
from ..events.hooks import backup_events
from ..hosting import Hosting, parse_create, parse_resize
from ..services import Services
from . import params
from .capacity import Capacity

__all__ = ["routes", "MAX_IDS", "MAX_STOP_SECONDS"]

MAX_IDS = 500
MAX_STOP_SECONDS = 600


class ContainerCollection:
    def __init__(self, hosting: Hosting) -> None:
        self._hosting = hosting

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ids = req.get_param_as_list("id") or []
        if len(ids) > MAX_IDS:
            raise InvalidInput("id", f"at most {MAX_IDS} ids per request")
        listing = self._hosting.describe_many(ids, running=params.flag(req, "running", default=None))
        config = self._hosting.config
        resp.media = with_last_backup(with_disk(listing, read_usage(config)), LastBackups.of(config).all())

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = params.json_object(req)
        request = parse_create(body, self._hosting.config)
        container_id, warnings, extra = self._hosting.create(request, start=bool(params.flag(req, "start")))
        resp.status = falcon.HTTP_200  # the original's; the PHP panel takes anything else for a failure
        resp.media = {"Id": container_id, "warning": warnings, **extra}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        keep = False in (params.flag(req, "volumes", default=True), params.flag(req, "deletevolume", default=True))
        self._hosting.delete(params.container_id(req), volumes=not keep)
        resp.status = falcon.HTTP_204

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        ref, body = params.container_id(req), params.json_object(req)
        resp.media = {"warning": self._hosting.resize(ref, parse_resize(body))}


class ContainerAction:
    """POST /v1/container/<action>; idempotent: the engine's 304 is a 204 too."""

    def __init__(self, hosting: Hosting, action: str) -> None:
        self._hosting = hosting
        self._action = action

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ref = params.container_id(req)
        if self._action == "start":
            self._hosting.start(ref)
        else:
            t = params.integer(req, "t", default=10, lo=0, hi=MAX_STOP_SECONDS)
            getattr(self._hosting, self._action)(ref, t)
        resp.status = falcon.HTTP_204


class ContainerIsolate:
    """POST /v1/container/isolate: a site made before the site network moves onto it."""

    def __init__(self, hosting: Hosting) -> None:
        self._hosting = hosting

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._hosting.isolate(params.container_id(req))


def routes(services: Services) -> list[tuple[str, object]]:
    hosting = Hosting(
        services.engine,
        services.config,
        services.store,
        final_backup(services.engine, services.config, backup_events(services.journal)),
        quotas=Quotas(services.config, services.journal),
        journal=services.journal,
    )
    return [
        ("/v1/container", ContainerCollection(hosting)),
        *((f"/v1/container/{a}", ContainerAction(hosting, a)) for a in ("start", "stop", "restart")),
        ("/v1/container/isolate", ContainerIsolate(hosting)),
        ("/v1/capacity", Capacity(hosting, services)),  # the same listing cache
    ]
