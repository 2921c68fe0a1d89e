"""The one table of error answers' descriptions, by status, shared by every noun's paths.

An endpoint whose error means something narrower (git's 403, a backup's 409) passes its
own words to `errors`; the statuses themselves are `resources/errors.py`'s."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["STATUSES", "TEXT_PLAIN", "errors"]

#: The content of every error answer (and of git's output): one text/plain body.
TEXT_PLAIN = {"text/plain": {"schema": {"type": "string"}}}

STATUSES = {
    400: "malformed input (the message names the field)",
    401: "missing or wrong token",
    403: "not a dockerlink container",
    404: "no such container",
    409: "conflict",
    412: "git exited non-zero; the body is its output",
    413: "body over 1 MiB",
    429: "every slot of the worker for long requests (event waits, git) is taken",
    502: "unexpected engine error",
    503: "engine unreachable",
    504: "git ran past git_timeout and was killed",
}


def errors(*codes: int, narrower: Mapping[int, str] | None = None) -> dict[str, dict]:
    """The responses of `codes`, in that order: `narrower`'s description where it has one,
    else the table's."""
    said = {**STATUSES, **(narrower or {})}
    return {str(c): {"description": said[c], "content": TEXT_PLAIN} for c in codes}
