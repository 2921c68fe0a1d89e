"""The site owner's credentials as a request gives them: validated here, once.

A `Credentials` never shows its password in a repr (so never in a log line or a trace).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput

__all__ = [
    "PASSWORD_PATTERN",
    "KEY_TYPES",
    "Credentials",
    "parse_credentials",
    "random_password",
    "check_key_line",
    "MAX_KEYS",
]

MIN_PASSWORD = 12
MAX_PASSWORD = 128
MAX_KEYS = 20
MAX_KEY_LINE = 16 * 1024
#: What a password may not hold: control characters (C0, DEL, C1), line and paragraph
#: separators, invisible format characters (soft hyphen, zero-width, bidi controls, BOM),
#: surrogates, private use and non-characters of the basic plane. Written with escapes that
#: Python's `re` and ECMA-262 (the OpenAPI document's regex dialect) read alike.
_UNPRINTABLE = (
    r"\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    r"\ud800-\udfff\ue000-\uf8ff\ufeff\ufff9-\ufffb\ufffe\uffff"
)
#: Printable characters, at least one of them not a space.
PASSWORD_PATTERN = rf"[^{_UNPRINTABLE}]*[^\s{_UNPRINTABLE}][^{_UNPRINTABLE}]*"
_PASSWORD = re.compile(PASSWORD_PATTERN)
_PRINTABLE = re.compile(rf"[^{_UNPRINTABLE}]*")

KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_B64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})"
#: One OpenSSH public key line; also the OpenAPI pattern, so the document says what is accepted.
KEY_PATTERN = "(?:" + "|".join(t.replace(".", "\\.") for t in KEY_TYPES) + f") {_B64}(?: [\\x20-\\x7e]*)?"
_KEY_LINE = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class Credentials:
    """What to set; None leaves that part as it is."""

    password: str | None = field(default=None, repr=False)
    ssh_keys: tuple[str, ...] | None = None
    generated: bool = False  # the password was made here, to be returned once

    @property
    def empty(self) -> bool:
        return self.password is None and self.ssh_keys is None


def random_password() -> str:
    """24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


def _password(value: object) -> str:
    """Any printable Unicode (the original panels' users are French: `été` is a letter), counted
    in characters, not bytes; hashed later from its UTF-8 bytes, as `chpasswd` does. The
    message never quotes the password."""
    if not isinstance(value, str):
        raise InvalidInput("password", "expected a string")
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise InvalidInput("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if not _PRINTABLE.fullmatch(value):
        raise InvalidInput(
            "password", "must be printable characters (no control or invisible character, no line break)"
        )
    if not _PASSWORD.fullmatch(value):
        raise InvalidInput("password", "must have a character other than spaces")
    return value


def check_key_line(line: object) -> str:
    """One OpenSSH public key line: type, base64 key, optional comment; no options prefix
    (`command=`, `from=`…), no second line. The key itself is sshd's to read."""
    if not isinstance(line, str) or len(line) > MAX_KEY_LINE or not _KEY_LINE.fullmatch(line):
        raise InvalidInput(
            "ssh_keys", "each key must be '<type> <base64> [comment]' with a type among " + ", ".join(KEY_TYPES)
        )
    return line


def _keys(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInput("ssh_keys", "expected a list of OpenSSH public key lines")
    if len(value) > MAX_KEYS:
        raise InvalidInput("ssh_keys", f"at most {MAX_KEYS} keys")
    return tuple(check_key_line(line) for line in value)


def parse_credentials(body: dict[str, Any], generate: bool) -> Credentials:
    """`password` and `ssh_keys` of a body; with neither and `generate`, a random password."""
    password = None if body.get("password") is None else _password(body["password"])
    keys = None if body.get("ssh_keys") is None else _keys(body["ssh_keys"])
    if password is None and keys is None and generate:
        return Credentials(password=random_password(), generated=True)
    return Credentials(password=password, ssh_keys=keys)
