"""Scoped tokens: short-lived, signed tokens for one container and some verbs (docs/contract.md §6.4).

The panel (holding `api_token`) mints one for a site owner's browser, which then calls
its host's agent directly. A token is a JWT (PyJWT, HS256) whose key is derived from
`api_token`, so changing `api_token` revokes every token. Claims: `sub` (the container's
full id), `scope` (space-separated), `exp`, `iat`, `jti`.

`ENDPOINT_SCOPES` is the one table saying which endpoint a scope opens; an endpoint
missing from it (create, delete, resize, `/v1/env`, `/v1/token`, `/metrics`, ...) is for
the panel's token only. A new endpoint plugs in with one line there.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import jwt

from .engine import InvalidReference, check_container_ref
from .errors import InvalidInput
from .statefiles import StateFiles
from .storage import connect, migrate

if TYPE_CHECKING:
    from .config import Config

__all__ = [
    "revocations_problem",
    "SCOPES",
    "TRANSFER_SCOPE",
    "MAX_TTL",
    "DEFAULT_TTL",
    "ANY_SCOPE",
    "Access",
    "ENDPOINT_SCOPES",
    "Grant",
    "InvalidToken",
    "TokenRequest",
    "parse_token_request",
    "Revocations",
    "SQLiteRevocations",
    "ScopedTokens",
]

SCOPES = ("stats", "logs", "events", "power", "git", "backup")
#: The receiving side of one site transfer (docs/contract.md §7.3): minted by
#: `POST /v1/transfer/token` only, never by `POST /v1/token`; such a token holds this scope
#: alone, its `sub` is the transfer's id (no container has it) and its `site` the name.
TRANSFER_SCOPE = "transfer"
MAX_TTL = 3600
DEFAULT_TTL = 900
ALGORITHM = "HS256"
_KEY_LABEL = b"dockerlink scoped tokens v1"
_FULL_ID = re.compile(r"^[0-9a-f]{64}$")
_JTI = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

#: An endpoint every scope opens (e.g. the listing, narrowed to the token's container).
ANY_SCOPE = "*"


@dataclass(frozen=True)
class Access:
    """What a scoped token needs on one endpoint: `scope` (or ANY_SCOPE), and whether a
    request without `id` means the token's own container (else it is refused: without
    `id`, git would run on the host)."""

    scope: str
    absent_id_is_own: bool = False


#: (method, route template) → Access. Only these endpoints accept a scoped token.
ENDPOINT_SCOPES: Mapping[tuple[str, str], Access] = {
    ("GET", "/v1/container"): Access(ANY_SCOPE, absent_id_is_own=True),
    ("GET", "/v1/container/stats"): Access("stats"),
    ("POST", "/v1/container/start"): Access("power"),
    ("POST", "/v1/container/stop"): Access("power"),
    ("POST", "/v1/container/restart"): Access("power"),
    ("GET", "/v1/git"): Access("git"),
    ("PUT", "/v1/git"): Access("git"),
    ("GET", "/v1/git/head"): Access("git"),
    ("GET", "/v1/git/branches"): Access("git"),
    ("GET", "/v1/git/branch"): Access("git"),
    ("POST", "/v1/git/branch"): Access("git"),
    ("GET", "/v1/container/logs"): Access("logs"),
    ("GET", "/v1/events"): Access("events", absent_id_is_own=True),
    # Backups by id only: the name-keyed ones (download, upload, delete, list by name) could
    # name another site, so they stay the panel's.
    ("POST", "/v1/container/backup"): Access("backup"),
    ("POST", "/v1/container/restore"): Access("backup"),
    # The receiving side of a transfer: the grant's own transfer, never an `id` of the caller's.
    ("PUT", "/v1/transfer/receive"): Access(TRANSFER_SCOPE, absent_id_is_own=True),
    ("PUT", "/v1/transfer/receive/data"): Access(TRANSFER_SCOPE, absent_id_is_own=True),
    ("POST", "/v1/transfer/receive/commit"): Access(TRANSFER_SCOPE, absent_id_is_own=True),
    ("DELETE", "/v1/transfer/receive"): Access(TRANSFER_SCOPE, absent_id_is_own=True),
}


class InvalidToken(Exception):
    """A token that is malformed, wrongly signed, expired or revoked (→ 401)."""


@dataclass(frozen=True)
class Grant:
    """What a valid scoped token allows."""

    container_id: str
    scopes: frozenset[str]
    jti: str
    expires: int
    site: str | None = None  # a transfer token's site name

    def allows(self, access: Access) -> bool:
        if TRANSFER_SCOPE in self.scopes:  # a transfer token opens its own endpoints only
            return access.scope == TRANSFER_SCOPE
        return access.scope == ANY_SCOPE or access.scope in self.scopes


@dataclass(frozen=True)
class TokenRequest:
    ref: str
    scopes: tuple[str, ...]
    ttl: int


def parse_token_request(body: Mapping[str, Any]) -> TokenRequest:
    """`{"id", "scopes", "ttl"?}` checked field by field (400 naming the field)."""
    ref = body.get("id")
    if not isinstance(ref, str):
        raise InvalidInput("id", "a container id or name is required")
    try:
        check_container_ref(ref)
    except InvalidReference:
        raise InvalidInput("id", f"not a container id or name: {ref[:80]!r}") from None
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise InvalidInput("scopes", f"a non-empty list of: {', '.join(SCOPES)}")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidInput("scopes", f"unknown scope {unknown[0][:40]!r}; accepted: {', '.join(SCOPES)}")
    ttl = body.get("ttl", DEFAULT_TTL)
    if isinstance(ttl, float) and ttl.is_integer():
        ttl = int(ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise InvalidInput("ttl", f"seconds, an integer between 1 and {MAX_TTL}")
    return TokenRequest(ref, tuple(dict.fromkeys(scopes)), ttl)


log = logging.getLogger("dockerlink.tokens")


class Revocations(Protocol):
    def revoke(self, jti: str, until: float) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...


def revocations_problem(path: str) -> str | None:
    """Why the revocations file at `path` cannot be read (one line), or None: read-only, so
    `dockerlink check` never makes or changes it. A missing file is no problem (none yet)."""
    if not os.path.exists(path):
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"{_unreadable_line(exc)} ({path})"
    return None


def _unreadable_line(exc: Exception) -> str:
    """Said on /v1/health, which answers without a token: no path in it."""
    return f"token revocations file unreadable ({exc}): every scoped token is refused"


class SQLiteRevocations:
    """Revoked token ids in a small SQLite file of their own (`<stats_db>.revoked`), shared
    by every gunicorn worker; a row is kept until the token would have expired anyway, then
    dropped. Not in the stats file: a corrupt stats file is moved aside and restarted empty,
    and a revoked token must not work again with it.

    A file that cannot be read fails closed: every scoped token counts as revoked (the
    panel's own token still works), `problem` says so for `/v1/health`, one log line says
    it once (no token in it), and the file is tried again on the next check, so replacing
    it (docs/security.md) ends it without a restart."""

    _SCHEMA = "CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID"

    def __init__(self, path: str, clock: Callable[[], float] = time.time, *, carry_from: str | None = None) -> None:
        self.path = path
        self._clock = clock
        self._local = threading.local()
        self.problem: str | None = None  # why the file cannot be read, while it cannot
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            self._db()
        except sqlite3.DatabaseError as exc:
            self._unreadable(exc)
        else:
            if carry_from is not None:
                self._carry_over(carry_from)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, synchronous="FULL")  # a revocation survives a loss of power
            migrate(db, [[self._SCHEMA]])
            self._local.db = db
        return db

    def _carry_over(self, legacy: str) -> None:
        """Move the revocations an earlier version kept in the stats file (`legacy`) here, once."""
        if not os.path.exists(legacy):  # ATTACH would create it
            return
        db = self._db()
        try:
            db.execute("ATTACH DATABASE ? AS legacy", (legacy,))
        except sqlite3.DatabaseError:
            return
        try:
            db.execute(
                "INSERT OR IGNORE INTO revoked_tokens SELECT jti, until FROM legacy.revoked_tokens WHERE until >= ?",
                (self._clock(),),
            )
            db.execute("DROP TABLE legacy.revoked_tokens")
        except sqlite3.DatabaseError:  # no such table (already moved, or never any), or a corrupt file
            pass
        finally:
            db.execute("DETACH DATABASE legacy")

    def revoke(self, jti: str, until: float) -> None:
        db = self._db()
        db.execute("INSERT OR REPLACE INTO revoked_tokens (jti, until) VALUES (?, ?)", (jti, until))
        db.execute("DELETE FROM revoked_tokens WHERE until < ?", (self._clock(),))

    def is_revoked(self, jti: str) -> bool:
        try:
            found = self._db().execute("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._unreadable(exc)
            return True  # fail closed: a revoked token must never work
        if self.problem is not None:
            log.warning("token revocations file %s readable again", self.path)
            self.problem = None
        return found is not None

    def _unreadable(self, exc: sqlite3.DatabaseError) -> None:
        """Note a file that cannot be read (logged once per spell) and drop this thread's
        connection, so the next check opens the file anew."""
        db, self._local.db = getattr(self._local, "db", None), None
        if db is not None:
            db.close()
        if self.problem is None:
            self.problem = _unreadable_line(exc)
            log.error("%s (%s); see docs/security.md", self.problem, self.path)


def derive_key(api_token: str) -> bytes:
    """The signing key: HMAC-SHA256 of a fixed label under `api_token` (never the token itself)."""
    return hmac.new(api_token.encode(), _KEY_LABEL, hashlib.sha256).digest()


class ScopedTokens:
    """Mints and checks scoped tokens. `clock` is injected so tests control expiry."""

    def __init__(self, api_token: str, revocations: Revocations, clock: Callable[[], float] = time.time) -> None:
        self._key = derive_key(api_token)
        self._revocations = revocations
        self._clock = clock

    @classmethod
    def for_config(cls, config: Config, clock: Callable[[], float] = time.time) -> ScopedTokens:
        """The issuer every worker uses: `api_token`'s key, the revocations file beside `stats_db`."""
        if not config.api_token:
            raise ValueError("scoped tokens need api_token")
        revocations = SQLiteRevocations(StateFiles.of(config).path("revoked"), clock, carry_from=config.stats_db)
        return cls(config.api_token, revocations, clock=clock)

    def mint(self, container_id: str, scopes: Iterable[str], ttl: int, *, site: str | None = None) -> tuple[str, int]:
        """A token for `container_id` (full id) and `scopes`, and its expiry (unix seconds);
        `site` only for a transfer token (`mint_transfer`)."""
        now = int(self._clock())
        expires = now + min(int(ttl), MAX_TTL)
        claims: dict[str, Any] = {
            "sub": container_id,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": expires,
            "jti": secrets.token_urlsafe(16),
        }
        if site is not None:
            claims["site"] = site
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires

    def mint_transfer(self, site: str, ttl: int) -> tuple[str, str, int]:
        """A transfer token for receiving site `site`: the transfer's id (64 hex, its `sub`),
        the token and its expiry."""
        transfer_id = secrets.token_hex(32)
        token, expires = self.mint(transfer_id, (TRANSFER_SCOPE,), ttl, site=site)
        return transfer_id, token, expires

    def verify(self, token: str) -> Grant:
        try:
            # Only HS256 is accepted (so never `alg: none`, never a public-key algorithm);
            # expiry is checked below against the injected clock.
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "scope", "exp", "iat", "jti"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            raise InvalidToken("invalid token") from None
        sub, scope, exp, jti = claims["sub"], claims["scope"], claims["exp"], claims["jti"]
        if not (isinstance(sub, str) and _FULL_ID.match(sub) and isinstance(scope, str) and isinstance(exp, int)):
            raise InvalidToken("invalid token")
        if not (isinstance(jti, str) and _JTI.match(jti)):
            raise InvalidToken("invalid token")
        scopes = frozenset(scope.split())
        site = claims.get("site")
        if scopes == {TRANSFER_SCOPE}:
            if not isinstance(site, str) or not site:
                raise InvalidToken("invalid token")
        elif not scopes <= set(SCOPES) or site is not None:
            raise InvalidToken("invalid token")
        return self.check(Grant(sub, scopes, jti, exp, site))

    def check(self, grant: Grant) -> Grant:
        """The grant, while it is neither expired nor revoked: asked again by a request that
        outlasts its token's check at the door (a parked `/v1/events` wait)."""
        if grant.expires <= self._clock():
            raise InvalidToken("token expired")
        if self._revocations.is_revoked(grant.jti):
            raise InvalidToken("token revoked")
        return grant

    def problem(self) -> str | None:
        """Why scoped tokens are refused whatever they are (an unreadable revocations file),
        or None; the file is read once to say it as it is now."""
        self._revocations.is_revoked("-")
        return getattr(self._revocations, "problem", None)

    def revoke(self, jti: str) -> None:
        """Revoke token `jti`. Its expiry is not known from the id alone, so it is kept for
        the longest lifetime a token can have, which covers it."""
        if not _JTI.match(jti):
            raise InvalidInput("jti", "not a token id")
        self._revocations.revoke(jti, self._clock() + MAX_TTL)
