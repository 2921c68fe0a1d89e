"""Git endpoints: pull, init, head, branches, current branch, switch (docs/contract.md §3.3).

`id` picks the container (none: the host, under `git_host_root`), `path` the working
directory; everything else, validation included, is `dockerlink.git`'s."""

from __future__ import annotations

import falcon

from ..git import Git
from ..services import Services
from . import params

__all__ = ["routes"]


def _where(req: falcon.Request) -> tuple[str | None, str | None]:
    return params.optional_container_id(req), params.text(req, "path")


def _text(resp: falcon.Response, body: str) -> None:
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = body


class Repository:
    """`/v1/git`: GET pulls, PUT initialises (creating the directory)."""

    def __init__(self, git: Git) -> None:
        self._git = git

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _text(resp, self._git.pull(*_where(req)))

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._git.init(*_where(req))
        resp.status = falcon.HTTP_204


class Head:
    def __init__(self, git: Git) -> None:
        self._git = git

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _text(resp, self._git.head(*_where(req)))


class Branches:
    def __init__(self, git: Git) -> None:
        self._git = git

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._git.branches(*_where(req), fetch=params.flag(req, "fetch"))


class Branch:
    """GET: the current branch (`HEAD` when detached). POST `?branch=`: switch to it."""

    def __init__(self, git: Git) -> None:
        self._git = git

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _text(resp, self._git.current_branch(*_where(req)))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        branch = params.text(req, "branch", required=True)
        _text(resp, self._git.switch(*_where(req), branch))


def routes(services: Services) -> list[tuple[str, object]]:
    git = Git(services.engine, services.config, slots=services.slots)
    return [
        ("/v1/git", Repository(git)),
        ("/v1/git/head", Head(git)),
        ("/v1/git/branches", Branches(git)),
        ("/v1/git/branch", Branch(git)),
    ]
