from __future__ import annotations

import pytest

from dockerlink.access.credentials import MAX_KEYS, parse_credentials
from dockerlink.access.sha512crypt import sha512_crypt
from dockerlink.errors import InvalidInput
from tests.access.keys import key_line


def test_sha512_crypt_matches_the_specification_vectors():
    assert sha512_crypt("Hello world!", "saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
    )
    assert sha512_crypt("Hello world!", "saltstringsaltstring", rounds=10000) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/"
        "UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
    )


def test_neither_password_nor_keys_makes_a_random_password_of_at_least_20_characters():
    a, b = parse_credentials({}, generate=True), parse_credentials({}, generate=True)
    assert a.generated and len(a.password) >= 20 and a.password != b.password
    assert a.password not in repr(a)


def test_given_password_and_keys_are_kept_and_nothing_is_generated():
    creds = parse_credentials({"password": "correct horse battery", "ssh_keys": [key_line()]}, generate=True)
    assert (creds.password, creds.ssh_keys, creds.generated) == ("correct horse battery", (key_line(),), False)
    assert parse_credentials({"ssh_keys": []}, generate=True).password is None  # keys only: no password made


@pytest.mark.parametrize("password", ["short", "x" * 129, "tab\tinside-pass", "newline\ninside", 123456789012345])
def test_a_password_outside_the_rules_is_refused_naming_the_field(password):
    with pytest.raises(InvalidInput, match="^password: "):
        parse_credentials({"password": password}, generate=True)


@pytest.mark.parametrize(
    "line",
    [
        'command="rm -rf /" ' + key_line(),  # an options prefix
        key_line("ssh-dss"),  # not an accepted type
        "ssh-ed25519 not*base64",
        " " + key_line(),  # a leading blank
        "ssh-ed25519 AAA",  # not base64 of whole bytes
        key_line() + "\nssh-ed25519 AAAA",  # two lines in one
        "",
    ],
)
def test_a_key_line_outside_the_rules_is_refused(line):
    with pytest.raises(InvalidInput, match="^ssh_keys: "):
        parse_credentials({"ssh_keys": [line]}, generate=False)


def test_at_most_twenty_keys():
    parse_credentials({"ssh_keys": [key_line()] * MAX_KEYS}, generate=False)
    with pytest.raises(InvalidInput, match="at most 20"):
        parse_credentials({"ssh_keys": [key_line()] * (MAX_KEYS + 1)}, generate=False)


def test_a_key_without_comment_is_accepted():
    assert parse_credentials({"ssh_keys": [key_line(comment="")]}, generate=False).ssh_keys == (key_line(comment=""),)
