"""Strict patterns for values that end up in engine paths: checked before any call."""

from __future__ import annotations

import re

from .errors import InvalidReference

__all__ = [
    "CONTAINER_PATTERN",
    "CONTAINER_REF",
    "IMAGE_PATTERN",
    "check_container_ref",
    "check_exec_id",
    "check_volume_name",
    "check_network_ref",
    "check_image_ref",
]

# A full id, a prefix of one, or a name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), at most 128 characters.
#: Also valid as an ECMA-262 pattern, for the OpenAPI document.
CONTAINER_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}"
CONTAINER_REF = re.compile(CONTAINER_PATTERN)
_EXEC_ID = re.compile(r"[0-9a-f]{64}")
_NETWORK = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")
_VOLUME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}")
# name[:tag] or name@sha256:digest, registry host and path components included; no `..`.
#: Also valid as an ECMA-262 pattern, for the OpenAPI document (ASCII only, no `\w`).
IMAGE_PATTERN = (
    r"(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
    r"|(?:sha256:)?[0-9a-f]{12,64}"
)
_IMAGE = re.compile(IMAGE_PATTERN)


def _check(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value.split("/"):
        raise InvalidReference(f"invalid {what}: {value!r}")
    return value


def check_container_ref(value: object) -> str:
    """A container's full id, a unique prefix of it, or its name."""
    return _check(CONTAINER_REF, value, "container id or name")


def check_exec_id(value: object) -> str:
    return _check(_EXEC_ID, value, "exec id")


def check_volume_name(value: object) -> str:
    return _check(_VOLUME, value, "volume name")


def check_network_ref(value: object) -> str:
    """A network's full id, a unique prefix of it, or its name (the engine's name grammar)."""
    return _check(_NETWORK, value, "network id or name")


def check_image_ref(value: object) -> str:
    return _check(_IMAGE, value, "image reference")
