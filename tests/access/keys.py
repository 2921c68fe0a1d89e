"""Well-formed OpenSSH public key lines for tests (the key bytes are arbitrary)."""

from __future__ import annotations

import base64
import struct


def key_line(key_type: str = "ssh-ed25519", comment: str = "owner@laptop", inner: str | None = None) -> str:
    name = (inner or key_type).encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + bytes(range(32))
    return f"{key_type} {base64.b64encode(blob).decode()}" + (f" {comment}" if comment else "")
