"""Engine addresses: `unix:///path`, a bare socket path, or `tcp://host:port`."""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit

__all__ = ["DEFAULT_SOCKET", "base_url", "default_address", "display_name", "socket_path"]

DEFAULT_SOCKET = "/var/run/docker.sock"


def default_address() -> str:
    """`DOCKER_HOST` when set, else the standard socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def socket_path(address: str) -> str | None:
    """The unix socket path of an address, or None for a TCP one."""
    if address.startswith("unix://"):
        return address[len("unix://") :]
    if "://" not in address:
        return address
    return None


def display_name(address: str) -> str:
    """How messages name an engine: its socket path, or `host:port`."""
    path = socket_path(address)
    return path if path is not None else urlsplit(address).netloc


def base_url(address: str, tls: bool = False) -> str:
    """The URL prefix that `requests` (with requests-unixsocket) understands; `tls` makes a
    TCP engine's `https://`."""
    path = socket_path(address)
    if path is not None:
        if not path.startswith("/"):
            raise ValueError(f"engine socket path must be absolute: {address!r}")
        return "http+unix://" + quote(path, safe="")
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "http") or not parts.hostname or not parts.port:
        raise ValueError(f"engine address must be unix:///path, /path or tcp://host:port: {address!r}")
    if parts.path not in ("", "/"):
        raise ValueError(f"engine address must not have a path: {address!r}")
    return f"{'https' if tls else 'http'}://{parts.netloc}"
