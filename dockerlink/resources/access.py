"""POST /v1/container/access: replace the site owner's password and/or SSH keys (docs/contract.md §6.1)."""

from __future__ import annotations

import falcon

from ..access import Access
from ..engine import Engine
from ..ownership import require_owned
from ..services import Services
from . import params

__all__ = ["routes"]


class ContainerAccess:
    def __init__(self, engine: Engine, access: Access) -> None:
        self._engine = engine
        self._access = access

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        container = require_owned(self._engine.containers.inspect(params.container_id(req)))
        self._access.update_login(container.id, params.json_object(req))
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, object]]:
    return [("/v1/container/access", ContainerAccess(services.engine, Access(services.engine, services.config)))]
