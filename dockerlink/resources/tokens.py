"""`POST /v1/token` mints a scoped token; `DELETE /v1/token?jti=` revokes one (panel token only)."""

from __future__ import annotations

import falcon

from ..errors import Forbidden
from ..ownership import require_owned
from ..services import Services
from ..tokens import parse_token_request
from . import params

__all__ = ["routes"]


class Tokens:
    def __init__(self, services: Services) -> None:
        self._containers = services.engine.containers
        self._tokens = services.tokens

    def _issuer(self):  # noqa: ANN202
        if self._tokens is None:
            raise Forbidden("scoped tokens need api_token to be set")
        return self._tokens

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        issuer = self._issuer()
        request = parse_token_request(params.json_object(req))
        container = require_owned(self._containers.inspect(request.ref))
        token, expires = issuer.mint(container.id, request.scopes, request.ttl)
        resp.media = {"token": token, "expires": expires}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._issuer().revoke(params.text(req, "jti", required=True) or "")
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, object]]:
    return [("/v1/token", Tokens(services))]
