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


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "x" * 129,
        "é" * 129,  # 129 characters (258 bytes)
        "tab\tinside-pass",
        "newline\ninside",
        "carriage\rreturn-in",
        "nul\x00inside-password",
        "escape\x1b[31m-inside",
        "del\x7f-inside-password",
        "c1-control\x85-inside",
        "line\u2028separator-in",
        "paragraph\u2029separator",
        "zero-width\u200bspace-in",
        "bidi-override\u202einside",
        "lone-surrogate\ud800-in",
        "private-use\ue000-inside",
        " " * 17,
        " " * 12,
        "\u00a0" * 12,  # no-break spaces: spaces too
        "\u3000" * 12,
        123456789012345,
        ["a" * 12],
    ],
)
def test_a_password_outside_the_rules_is_refused_naming_the_field_and_not_quoting_it(password):
    with pytest.raises(InvalidInput, match="^password: ") as info:
        parse_credentials({"password": password}, generate=True)
    assert not isinstance(password, str) or password.strip() == "" or password not in str(info.value)


@pytest.mark.parametrize(
    "password",
    [
        "été à la plage",  # the original panels' users are French
        "Ça-marche-très-bien",
        "é" * 12,  # 12 characters, 24 bytes
        "é" * 128,  # 128 characters, 256 bytes
        "x" * 12,
        "   padded with spaces   ",
        " " * 11 + "x",
        "пароль-очень-длинный",
        "密码密码密码密码密码密码",
        "emoji 🔑🔑🔑 in it",
        "correct horse battery",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    ],
)
def test_any_printable_unicode_of_12_to_128_characters_with_a_non_space_is_accepted(password):
    assert parse_credentials({"password": password}, generate=False).password == password


def test_the_openapi_pattern_says_what_the_check_accepts(tmp_path):
    """The document's pattern is ECMA-262 (what a client validates with): run it in node's
    engine, Unicode mode, over accepted and refused passwords, and compare with the check."""
    import json
    import shutil
    import subprocess

    from dockerlink.access.credentials import PASSWORD_PATTERN

    node = shutil.which("node")
    if node is None:
        pytest.skip("needs node")
    samples = [
        "été à la plage",
        "x" * 12,
        " " * 11 + "x",
        "emoji 🔑🔑🔑 in it",
        "tab\tinside-pass",
        "line\u2028separator-in",
        "zero-width\u200bspace-in",
        "private-use\ue000-inside",
        "c1-control\x85-inside",
        " " * 12,
        "\u00a0" * 12,
    ]
    script = (
        f"const re = new RegExp({json.dumps('^' + PASSWORD_PATTERN + '$')}, 'u');"
        "const lines = require('fs').readFileSync(0, 'utf8');"
        "console.log(JSON.stringify(JSON.parse(lines).map(s => re.test(s))));"
    )
    done = subprocess.run(
        [node, "-e", script], input=json.dumps(samples), capture_output=True, text=True, check=True, timeout=30
    )
    matched = json.loads(done.stdout)

    def accepted(p: str) -> bool:
        try:
            parse_credentials({"password": p}, generate=False)
            return True
        except InvalidInput:
            return False

    assert matched == [accepted(p) for p in samples]
    assert matched == [True, True, True, True, False, False, False, False, False, False, False]


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
