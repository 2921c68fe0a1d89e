"""Scoped tokens on their own: minting, expiry against a controlled clock, revocation,
and tampering (a flipped bit, `alg: none`, another key, a changed claim)."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from dockerlink.config import Config
from dockerlink.errors import InvalidInput
from dockerlink.tokens import MAX_TTL, InvalidToken, ScopedTokens, SQLiteRevocations, derive_key, parse_token_request

API_TOKEN = "panel-token-0123456789abcdef"
CID = "a" * 64


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(tmp_path, clock) -> ScopedTokens:
    return ScopedTokens(API_TOKEN, SQLiteRevocations(str(tmp_path / "s.sqlite3"), clock), clock=clock)


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_a_minted_token_carries_the_contract_claims(tokens, clock):
    token, expires = tokens.mint(CID, ["stats", "power"], 600)
    claims = _claims(token)
    assert claims["sub"] == CID and claims["scope"] == "stats power"
    assert claims["iat"] == int(clock.now) and claims["exp"] == expires == int(clock.now) + 600
    assert len(claims["jti"]) >= 16
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    grant = tokens.verify(token)
    assert grant.container_id == CID and grant.scopes == {"stats", "power"} and grant.jti == claims["jti"]


def test_each_token_has_its_own_jti(tokens):
    assert _claims(tokens.mint(CID, ["stats"], 60)[0])["jti"] != _claims(tokens.mint(CID, ["stats"], 60)[0])["jti"]


def test_a_token_is_refused_from_its_expiry_on(tokens, clock):
    token, expires = tokens.mint(CID, ["stats"], 60)
    clock.now = expires - 1
    tokens.verify(token)
    clock.now = expires
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)


def test_a_revoked_token_is_refused_and_others_are_not(tokens):
    token, _ = tokens.mint(CID, ["stats"], 60)
    other, _ = tokens.mint(CID, ["stats"], 60)
    tokens.revoke(_claims(token)["jti"])
    with pytest.raises(InvalidToken, match="revoked"):
        tokens.verify(token)
    tokens.verify(other)


def test_revocation_is_shared_through_the_database(tmp_path, clock):
    """Two workers: each its own ScopedTokens over the same file."""
    path = str(tmp_path / "s.sqlite3")
    one = ScopedTokens(API_TOKEN, SQLiteRevocations(path, clock), clock=clock)
    two = ScopedTokens(API_TOKEN, SQLiteRevocations(path, clock), clock=clock)
    token, _ = one.mint(CID, ["git"], 60)
    two.verify(token)
    one.revoke(_claims(token)["jti"])
    with pytest.raises(InvalidToken):
        two.verify(token)


def test_a_revocation_is_kept_until_the_token_would_have_expired_then_dropped(tmp_path, clock):
    revocations = SQLiteRevocations(str(tmp_path / "s.sqlite3"), clock)
    tokens = ScopedTokens(API_TOKEN, revocations, clock=clock)
    token, expires = tokens.mint(CID, ["git"], MAX_TTL)
    jti = _claims(token)["jti"]
    tokens.revoke(jti)
    clock.now = expires - 1
    with pytest.raises(InvalidToken, match="revoked"):
        tokens.verify(token)
    clock.now = expires + 1
    tokens.revoke("x" * 16)  # any later revocation sweeps the rows past their time
    assert not revocations.is_revoked(jti)


def test_changing_api_token_revokes_every_token(tmp_path, tokens, clock):
    token, _ = tokens.mint(CID, ["stats"], 60)
    other = ScopedTokens("another-panel-token-987654", SQLiteRevocations(str(tmp_path / "s.sqlite3")), clock=clock)
    with pytest.raises(InvalidToken):
        other.verify(token)


def test_a_flipped_bit_anywhere_is_refused(tokens):
    token, _ = tokens.mint(CID, ["stats"], 60)
    header, payload, signature = token.split(".")
    mid = len(signature) // 2
    flipped = signature[:mid] + ("A" if signature[mid] != "A" else "B") + signature[mid + 1 :]
    with pytest.raises(InvalidToken):
        tokens.verify(f"{header}.{payload}.{flipped}")
    claims = _claims(token)
    for changed in (
        {**claims, "sub": "b" * 64},
        {**claims, "scope": "stats git"},
        {**claims, "exp": claims["exp"] + 1},
    ):
        with pytest.raises(InvalidToken):
            tokens.verify(f"{header}.{_b64(changed)}.{signature}")


def test_alg_none_is_refused(tokens):
    claims = _claims(tokens.mint(CID, ["stats"], 60)[0])
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(InvalidToken):
        tokens.verify(unsigned)
    with pytest.raises(InvalidToken):
        tokens.verify(jwt.encode(claims, None, algorithm="none"))


@pytest.mark.filterwarnings("ignore:The HMAC key is")
def test_a_token_signed_with_another_key_is_refused(tokens):
    claims = _claims(tokens.mint(CID, ["stats"], 60)[0])
    for key in (b"another key of 32 bytes or more....", API_TOKEN.encode()):  # not even the raw api_token
        with pytest.raises(InvalidToken):
            tokens.verify(jwt.encode(claims, key, algorithm="HS256"))
    assert tokens.verify(jwt.encode(claims, derive_key(API_TOKEN), algorithm="HS256")).container_id == CID


def test_an_unknown_scope_in_a_signed_token_is_refused(tokens, clock):
    claims = {**_claims(tokens.mint(CID, ["stats"], 60)[0]), "scope": "stats root"}
    with pytest.raises(InvalidToken):
        tokens.verify(jwt.encode(claims, derive_key(API_TOKEN), algorithm="HS256"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["stats"]}, "id"),
        ({"id": "../x", "scopes": ["stats"]}, "id"),
        ({"id": "site1"}, "scopes"),
        ({"id": "site1", "scopes": []}, "scopes"),
        ({"id": "site1", "scopes": ["admin"]}, "scopes"),
        ({"id": "site1", "scopes": "stats"}, "scopes"),
        ({"id": "site1", "scopes": ["stats"], "ttl": MAX_TTL + 1}, "ttl"),
        ({"id": "site1", "scopes": ["stats"], "ttl": 0}, "ttl"),
        ({"id": "site1", "scopes": ["stats"], "ttl": "60"}, "ttl"),
        ({"id": "site1", "scopes": ["stats"], "ttl": True}, "ttl"),
    ],
)
def test_a_malformed_token_request_names_the_field(body, field):
    with pytest.raises(InvalidInput) as caught:
        parse_token_request(body)
    assert caught.value.field == field


def test_a_token_request_keeps_scopes_once_and_in_order():
    assert parse_token_request({"id": "site1", "scopes": ["git", "stats", "git"], "ttl": 60.0}).scopes == (
        "git",
        "stats",
    )


def test_revocations_an_earlier_version_kept_in_the_stats_file_carry_over_once(tmp_path, clock):
    """Before, revocations were a table in the stats file; an upgrade keeps the live ones."""
    import sqlite3

    stats = tmp_path / "stats.sqlite3"
    with sqlite3.connect(stats) as db:
        db.execute("CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO revoked_tokens VALUES ('live-jti-0123456789', ?)", (clock.now + 60,))
        db.execute("INSERT INTO revoked_tokens VALUES ('gone-jti-0123456789', ?)", (clock.now - 60,))
    db.close()
    config = Config(stats_db=str(stats), api_token=API_TOKEN)
    ScopedTokens.for_config(config, clock)
    revocations = SQLiteRevocations(str(tmp_path / "stats.sqlite3.revoked"), clock)
    assert revocations.is_revoked("live-jti-0123456789")
    assert not revocations.is_revoked("gone-jti-0123456789")
    with sqlite3.connect(stats) as db:  # moved, not copied at each start
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'revoked_tokens'").fetchall() == []
    db.close()
    ScopedTokens.for_config(config, clock)  # a second worker finds nothing left to carry
    assert revocations.is_revoked("live-jti-0123456789")


def test_scoped_tokens_for_a_config_without_api_token_is_refused(tmp_path):
    with pytest.raises(ValueError):
        ScopedTokens.for_config(Config(stats_db=str(tmp_path / "s.sqlite3")))
