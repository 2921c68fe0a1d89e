"""Moving a site between hosts (docs/contract.md §7.3): on the sending host, start and
follow a transfer (the panel's token); on the receiving host, mint the transfer token
(the panel's) and the steps the sending host calls with it (that token only)."""

from __future__ import annotations

import falcon

from ..backups.disk import Quotas
from ..errors import Forbidden
from ..hosting import Hosting
from ..services import Services
from ..tokens import TRANSFER_SCOPE, Grant
from ..transfer import Receiver, Sender
from . import params
from .auth import grant_of

__all__ = ["routes"]


def _transfer_grant(req: falcon.Request) -> Grant:
    grant = grant_of(req)
    if grant is None or TRANSFER_SCOPE not in grant.scopes:
        raise Forbidden("only the sending host calls this, with the transfer token this host minted")
    return grant


class Transfer:
    """`POST /v1/container/transfer?id=`: start; `GET`: its status."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_202
        resp.media = self._sender.start(params.container_id(req), params.json_object(req))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._sender.status(params.container_id(req))


class TransferToken:
    """`POST /v1/transfer/token`: the receiving host mints the token for one site's transfer."""

    def __init__(self, services: Services, receiver: Receiver) -> None:
        self._tokens = services.tokens
        self._receiver = receiver

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._tokens is None:
            raise Forbidden("transfer tokens need api_token to be set")
        resp.status = falcon.HTTP_201
        resp.media = self._receiver.mint(params.json_object(req), self._tokens)


class Receive:
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_201
        resp.media = self._receiver.open(_transfer_grant(req), params.json_object(req))

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._receiver.abort(_transfer_grant(req))
        resp.status = falcon.HTTP_204


class ReceiveData:
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        grant = _transfer_grant(req)
        number = params.integer(req, "pass", lo=1, hi=2)
        resp.media = self._receiver.data(grant, number or 1, params.body_stream(req), req.content_length)


class ReceiveCommit:
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._receiver.commit(_transfer_grant(req), params.json_object(req))


def routes(services: Services) -> list[tuple[str, object]]:
    # No final backup before a removal here: the site's files live on, on the other host.
    hosting = Hosting(
        services.engine,
        services.config,
        services.store,
        quotas=Quotas(services.config, services.journal),
        journal=services.journal,
    )
    receiver = Receiver(services.engine, services.config, hosting)
    return [
        ("/v1/container/transfer", Transfer(Sender(services.engine, services.config, hosting))),
        ("/v1/transfer/token", TransferToken(services, receiver)),
        ("/v1/transfer/receive", Receive(receiver)),
        ("/v1/transfer/receive/data", ReceiveData(receiver)),
        ("/v1/transfer/receive/commit", ReceiveCommit(receiver)),
    ]
