"""Git endpoints: pull, init, head, branches, current branch, switch (SPEC §3 "Git").

`id` picks the container (none: the host, under `git_host_root`), `path` the working
directory; everything else, validation included, is `dockerlink.git`'s."""

from __future__ import annotations

import falcon

from ..engine import CONTAINER_PATTERN
from ..git import BRANCH_PATTERN, Git
from ..openapi import TEXT_PLAIN
from ..services import Services
from . import params

__all__ = ["routes", "OPENAPI_PATHS"]


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
    git = Git(services.engine, services.config)
    return [
        ("/v1/git", Repository(git)),
        ("/v1/git/head", Head(git)),
        ("/v1/git/branches", Branches(git)),
        ("/v1/git/branch", Branch(git)),
    ]


# --- OpenAPI ----------------------------------------------------------------------------


_ID = {
    "name": "id",
    "in": "query",
    "required": False,
    "description": "Container: full id, unique prefix or name. Without it git runs on the host, "
    "under git_host_root (403 while that is unset).",
    "schema": {"type": "string", "pattern": f"^{CONTAINER_PATTERN}$"},
}
_PATH = {
    "name": "path",
    "in": "query",
    "required": False,
    "description": "Absolute working directory. Default: the container's working directory "
    "(/var/www/html for dockerlink's). Required without id.",
    "schema": {"type": "string", "pattern": "^/[^\\x00-\\x1f\\x7f]*$"},
}
_FETCH = {
    "name": "fetch",
    "in": "query",
    "required": False,
    "description": "Run `git fetch --all --prune` first.",
    "schema": {"type": "boolean", "default": False},
}
_BRANCH = {
    "name": "branch",
    "in": "query",
    "required": True,
    "description": "A name `git check-ref-format --branch` accepts, not beginning with '-'. "
    "A remote-only branch gets a local tracking branch.",
    # The same rule as dockerlink.git.check_branch, made from the same table.
    "schema": {"type": "string", "pattern": BRANCH_PATTERN},
}

_ERRORS = {
    "400": "malformed input: the message names the field (id, path, branch, fetch); "
    "also a working directory that does not exist",
    "401": "missing or wrong token",
    "403": "a container dockerlink did not create; id-less git while git_host_root is unset; "
    "a path, or the repository git finds there, resolving outside git_host_root",
    "404": "no such container",
    "409": "the container is not running",
    "412": "git exited non-zero; the body is its output",
    "502": "the Docker engine answered with an unexpected error",
    "503": "the Docker engine is unreachable",
    "504": "git ran past git_timeout and was killed",
}


def _operation(summary: str, ok: dict, extra_params: tuple[dict, ...] = ()) -> dict:
    errors = {code: {"description": text, "content": TEXT_PLAIN} for code, text in _ERRORS.items()}
    return {
        "summary": summary,
        "tags": ["git"],
        "parameters": [_ID, _PATH, *extra_params],
        "responses": {**ok, **errors},
    }


_TEXT_OK = {
    "200": {
        "description": "git's output (stdout, then stderr); past git_output_max bytes it is cut there, "
        "the command stopped, and a last line says so",
        "content": TEXT_PLAIN,
    }
}

OPENAPI_PATHS = {
    "/v1/git": {
        "get": _operation("git pull", _TEXT_OK),
        "put": _operation(
            "git init (creating path if missing)",
            {"204": {"description": "initialised (or re-initialised)"}},
        ),
    },
    "/v1/git/head": {
        "get": _operation("git log -1 (412 in a repository with no commit)", _TEXT_OK),
    },
    "/v1/git/branches": {
        "get": _operation(
            "Local branches, then remote-tracking ones as remotes/<remote>/<branch>, no symbolic refs",
            {
                "200": {
                    "description": "branch names",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}},
                }
            },
            (_FETCH,),
        ),
    },
    "/v1/git/branch": {
        "get": _operation(
            "The current branch",
            {"200": {"description": "branch name, or HEAD when detached", "content": TEXT_PLAIN}},
        ),
        "post": _operation("Switch to a branch (git switch)", _TEXT_OK, (_BRANCH,)),
    },
}
