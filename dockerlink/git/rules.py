"""What git may be given: a branch name and a working directory, each checked by one
function before anything runs. The branch rule is one table, from which both the check
(with its reason) and the OpenAPI pattern are made."""

from __future__ import annotations

import posixpath
import re

from ..errors import InvalidInput

__all__ = ["BRANCH_PATTERN", "check_branch", "check_path"]

# What `git check-ref-format --branch` refuses (git 2.39, refs.c: check_refname_component
# and strbuf_check_branch_ref), applied to the name under `refs/heads/`, plus a leading `-`
# (it would read as an option). Each rule: (why, a pattern matching a name it refuses, from
# its start), written in the common subset of Python's `re` and ECMA-262.
_REFUSED: tuple[tuple[str, str], ...] = (
    ("begins with '-'", r"-"),
    ("HEAD is not a branch", r"HEAD$"),
    ("contains '..'", r".*\.\."),
    ("contains '@{'", r".*@\{"),
    ("ends with '.'", r".*\.$"),
    ("a component ends with '.lock'", r".*\.lock(?:/|$)"),
    ("a component begins with '.'", r"(?:.*/)?\."),
)
# What every component is made of: no space, control character, ~ ^ : ? * [ \ (and no '/').
_COMPONENT = r"[^\x00-\x20\x7f~^:?*\[\\/]+"
_COMPONENTS = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")

#: The whole rule as one ECMA-262 pattern (the OpenAPI document's).
BRANCH_PATTERN = "^" + "".join(f"(?!{refused})" for _, refused in _REFUSED) + _COMPONENTS + "$"
_REFUSED_RE = tuple((why, re.compile(refused, re.S)) for why, refused in _REFUSED)


def check_branch(name: object) -> str:
    """A branch name git's `check-ref-format --branch` accepts and that cannot be read as an
    option; anything else is a 400 naming the reason, before git runs."""
    if not isinstance(name, str) or name == "":
        raise InvalidInput("branch", "is required")
    reason = _branch_problem(name)
    if reason:
        raise InvalidInput("branch", f"not a valid branch name ({reason}): {name[:80]!r}")
    return name


def _branch_problem(name: str) -> str | None:
    for why, refused in _REFUSED_RE:
        if refused.match(name):
            return why
    if _FORBIDDEN_CHARS.search(name):
        return "space, control character or one of ~ ^ : ? * [ \\"
    if "" in name.split("/"):
        return "empty path component ('/' at an end or '//')"
    return None


def check_path(path: object) -> str:
    """An absolute path (git's working directory), normalised; relative ones are refused
    because they would depend on wherever the exec or the service happens to start."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidInput("path", f"must be an absolute path, got {str(path)[:80]!r}")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise InvalidInput("path", "must not contain control characters")
    return posixpath.normpath(path)
