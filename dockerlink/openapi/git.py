"""The git paths: pull, init, head, branches, current branch, switch."""

from __future__ import annotations

from ..engine import CONTAINER_PATTERN
from ..git import BRANCH_PATTERN
from .statuses import TEXT_PLAIN, errors

__all__ = ["PATHS", "SCHEMAS"]

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

#: Every git endpoint answers all of these.
_ERRORS = errors(
    400,
    401,
    403,
    404,
    409,
    412,
    429,
    502,
    503,
    504,
    narrower={
        400: "malformed input: the message names the field (id, path, branch, fetch); "
        "also a working directory that does not exist",
        403: "a container dockerlink did not create; id-less git while git_host_root is unset; "
        "a path, or the repository git finds there, resolving outside git_host_root",
        409: "the container is not running; its image has no user admin (git runs as the site's user, "
        "never root); before a pull or fetch, the repository names its own upload-pack or receive-pack",
        429: "the worker's slots for long requests (event waits and git together) are taken, or this "
        "container already runs git_per_site git commands in the worker; Retry-After says when to retry",
        502: "the Docker engine answered with an unexpected error",
        503: "the Docker engine is unreachable",
    },
)


def _operation(summary: str, ok: dict, extra_params: tuple[dict, ...] = ()) -> dict:
    return {
        "summary": summary,
        "tags": ["git"],
        "parameters": [_ID, _PATH, *extra_params],
        "responses": {**ok, **_ERRORS},
    }


_TEXT_OK = {
    "200": {
        "description": "git's output (stdout, then stderr); past git_output_max bytes it is cut there, "
        "the command stopped, and a last line says so",
        "content": TEXT_PLAIN,
    }
}

PATHS = {
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

SCHEMAS: dict = {}
