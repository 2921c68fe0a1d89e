"""`GET /v1/events` (the journal, with a cursor and long-poll) and `GET /v1/container/logs`."""

from __future__ import annotations

from functools import partial

import falcon

from ..events.bell import listen
from ..events.feed import MAX_LIMIT, MAX_WAIT, Feed, check_types, container_of
from ..events.logs import MAX_BODY, MAX_TAIL, merge
from ..events.waiting import Waiters
from ..ownership import require_owned
from ..services import Services
from . import params
from .auth import grant_of

__all__ = ["routes"]


class Events:
    def __init__(self, services: Services) -> None:
        journal = services.journal
        self._feed = Feed(journal, Waiters(journal.last_seq, services.slots, listen=partial(listen, journal.path)))
        self._inspect = services.engine.containers.inspect
        self._tokens = services.tokens

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        grant = grant_of(req)
        page = self._feed.read(
            params.integer(req, "since", 0) or 0,
            container=self._container(req),
            types=check_types(req.get_param_as_list("type") or []),
            limit=params.integer(req, "limit", 100, lo=1, hi=MAX_LIMIT) or 100,
            wait=float(params.integer(req, "wait", 0, hi=int(MAX_WAIT)) or 0),
            # a scoped token's wait ends (401) once the token is revoked or expires
            recheck=None if grant is None or self._tokens is None else partial(self._tokens.check, grant),
        )
        resp.media = page.to_json()

    def _container(self, req: falcon.Request) -> str | None:
        """Whose events: a scoped token's own container's (the id auth checked, never looked up
        again by name), else the full id `id` names now; none given: everyone's."""
        grant = grant_of(req)
        if grant is not None:
            return grant.container_id
        ref = params.optional_container_id(req)
        return None if ref is None else container_of(ref, self._inspect)


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
