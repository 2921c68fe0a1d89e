"""Reading query parameters and bodies; each failure is an InvalidInput naming the field."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

import falcon

from ..engine import InvalidReference, check_container_ref
from ..errors import InvalidInput, from_engine

__all__ = [
    "MAX_BODY",
    "body_stream",
    "container_id",
    "optional_container_id",
    "flag",
    "integer",
    "number",
    "text",
    "json_object",
]

#: Bodies over this size are refused (413) before being read.
MAX_BODY = 1 << 20
MAX_PARAM = 4096
_N = TypeVar("_N", int, float)


def text(req: falcon.Request, name: str, required: bool = False) -> str | None:
    value = req.get_param(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(name, "is required")
        return None
    if len(value) > MAX_PARAM:
        raise InvalidInput(name, f"longer than {MAX_PARAM} characters")
    return value


def container_id(req: falcon.Request, name: str = "id") -> str:
    """A required container id: full id, unique prefix or name."""
    ref = optional_container_id(req, name)
    if ref is None:
        raise InvalidInput(name, "is required")
    return ref


def optional_container_id(req: falcon.Request, name: str = "id") -> str | None:
    value = text(req, name)
    if value is None:
        return None
    try:
        return check_container_ref(value)
    except InvalidReference as exc:
        raise from_engine(exc, field=name) from None


def flag(req: falcon.Request, name: str, default: bool | None = False) -> bool | None:
    """true/1/yes or false/0/no; `default` when absent (None: the caller tells absent apart)."""
    value = text(req, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidInput(name, f"expected true or false, got {value[:40]!r}")


def integer(req: falcon.Request, name: str, default: int | None = None, lo: int = 0, hi: int = 2**62) -> int | None:
    value = text(req, name)
    if value is None:
        return default
    if not lo <= (parsed := _parsed(name, value, int, "an integer")) <= hi:
        raise InvalidInput(name, f"must be between {lo} and {hi}")
    return parsed


def _parsed(name: str, value: str, parse: Callable[[str], _N], expected: str) -> _N:
    """`parse(value)`; a refusal names the parameter and what it expected."""
    try:
        return parse(value)
    except ValueError:
        raise InvalidInput(name, f"expected {expected}, got {value[:40]!r}") from None


def body_stream(req: falcon.Request) -> BinaryIO:
    """The body, to read as it comes: up to its Content-Length, or, sent chunked, as the
    server decodes it (falcon's bounded stream reads a body without a length as empty);
    empty otherwise."""
    if req.content_length is not None:
        return req.bounded_stream
    if "chunked" in (req.get_header("Transfer-Encoding") or "").lower():
        return req.stream
    return io.BytesIO()


def _body(req: falcon.Request) -> bytes:
    """At most MAX_BODY + 1 bytes of the body (413 at once when its Content-Length is past
    the cap)."""
    length = req.content_length
    if length is not None and length > MAX_BODY:
        raise falcon.HTTPContentTooLarge(description=f"body over {MAX_BODY} bytes")
    stream = body_stream(req)
    parts: list[bytes] = []
    size = 0
    while size <= MAX_BODY and (part := stream.read(MAX_BODY + 1 - size)):
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def number(req: falcon.Request, name: str, lo: float = 0.0, hi: float = 1e12) -> float | None:
    value = text(req, name)
    if value is None:
        return None
    if not lo <= (parsed := _parsed(name, value, float, "a number")) <= hi:  # also refuses nan
        raise InvalidInput(name, f"must be between {lo:g} and {hi:g}")
    return parsed


def json_object(req: falcon.Request) -> dict[str, Any]:
    """The body as a JSON object; 413 past MAX_BODY without reading it whole."""
    raw = _body(req)
    if len(raw) > MAX_BODY:
        raise falcon.HTTPContentTooLarge(description=f"body over {MAX_BODY} bytes")
    if not raw.strip():
        raise InvalidInput("body", "a JSON object is required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "not valid JSON") from None
    except RecursionError:  # nesting deeper than the parser's stack: `[` × 200000
        raise InvalidInput("body", "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object")
    return data
