"""SHA-512 crypt (`$6$`), the password hash glibc and PAM read in /etc/shadow.

A pure function after Ulrich Drepper's specification ("Unix crypt using SHA-256 and
SHA-512"), because the stdlib's `crypt` is deprecated (gone in 3.13) and the hash must be
made here: the password itself never reaches the container, only this hash does.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["sha512_crypt", "new_salt"]

_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ROUNDS_DEFAULT = 5000
# The byte order of the final base-64 encoding, in groups of three (spec, step 22e).
_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
    (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
)  # fmt: skip


def new_salt(length: int = 16) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ALPHABET[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat(digest: bytes, length: int) -> bytes:
    return (digest * (length // 64 + 1))[:length]


def sha512_crypt(password: str, salt: str, rounds: int = ROUNDS_DEFAULT) -> str:
    """`$6$[rounds=N$]salt$hash` of `password` (salt: at most 16 characters are used)."""
    key = password.encode()
    salt_b = salt.encode()[:16]
    rounds = min(max(rounds, 1000), 999_999_999)
    b = hashlib.sha512(key + salt_b + key).digest()
    a = hashlib.sha512(key + salt_b)
    a.update(_repeat(b, len(key)))
    n = len(key)
    while n:
        a.update(b if n & 1 else key)
        n >>= 1
    a_digest = a.digest()
    p = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    s = _repeat(hashlib.sha512(salt_b * (16 + a_digest[0])).digest(), len(salt_b))
    c = a_digest
    for i in range(rounds):
        h = hashlib.sha512(p if i & 1 else c)
        if i % 3:
            h.update(s)
        if i % 7:
            h.update(p)
        h.update(c if i & 1 else p)
        c = h.digest()
    encoded = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _ORDER) + _b64(0, 0, c[63], 2)
    prefix = "$6$" if rounds == ROUNDS_DEFAULT else f"$6$rounds={rounds}$"
    return f"{prefix}{salt_b.decode()}${encoded}"
