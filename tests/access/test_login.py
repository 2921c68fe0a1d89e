from __future__ import annotations

import shutil
import subprocess

import pytest

from dockerlink.access.credentials import Credentials
from dockerlink.access.login import Login, MissingUser, OversizedFile, find_user, replace_hash
from dockerlink.access.sha512crypt import sha512_crypt
from tests.access.keys import key_line
from tests.fakes import FakeEngine


@pytest.fixture
def engine() -> FakeEngine:
    e = FakeEngine()
    e.containers.add("site1")
    return e


def test_the_password_becomes_a_sha512_hash_in_shadow_keeping_its_owner_and_mode(engine):
    Login(engine).apply("site1", Credentials(password="correct horse battery"))
    cid = engine.containers._resolve("site1").id
    data, mode, uid, gid = engine.archives.files[(cid, "/etc/shadow")]
    admin = next(line for line in data.decode().splitlines() if line.startswith("admin:"))
    hashed = admin.split(":")[1]
    salt = hashed.split("$")[2]
    assert hashed == sha512_crypt("correct horse battery", salt)
    assert b"correct horse" not in data
    assert (mode, uid, gid) == (0o640, 0, 42)
    assert data.decode().startswith("root:*:")  # other users untouched


def test_a_hash_taken_from_another_container_is_written_as_it_is_keeping_owner_and_mode(engine):
    hashed = sha512_crypt("moved along", "abcdefgh")
    Login(engine).set_password_hash("site1", hashed)  # a transfer's: the hash, never the password
    cid = engine.containers._resolve("site1").id
    data, mode, uid, gid = engine.archives.files[(cid, "/etc/shadow")]
    admin = next(line for line in data.decode().splitlines() if line.startswith("admin:"))
    assert admin.split(":")[1] == hashed
    assert (mode, uid, gid) == (0o640, 0, 42)


def test_keys_go_to_authorized_keys_owned_by_admin_mode_0600(engine):
    Login(engine).apply("site1", Credentials(ssh_keys=(key_line(), key_line(comment="b"))))
    cid = engine.containers._resolve("site1").id
    data, mode, uid, gid = engine.archives.files[(cid, "/var/www/.ssh/authorized_keys")]
    assert data.decode() == f"{key_line()}\n{key_line(comment='b')}\n"
    assert (mode, uid, gid) == (0o600, 1000, 1000)
    assert engine.archives.files[(cid, "/var/www/.ssh")][1:] == (0o700, 1000, 1000)
    assert (cid, "/etc/shadow") not in engine.archives.files  # password left as it was


def test_an_image_without_admin_is_a_conflict_naming_the_user(engine):
    engine.archives.without_admin.add(engine.containers._resolve("site1").id)
    with pytest.raises(MissingUser, match="no user admin"):
        Login(engine).apply("site1", Credentials(password="correct horse battery"))


def test_passwd_and_shadow_parsing():
    assert find_user("root:x:0:0::/root:/bin/sh\nadmin:x:1000:1001::/var/www:/bin/bash\n", "admin").home == "/var/www"
    assert find_user("root:x:0:0::/root:/bin/sh\n", "admin") is None
    assert (
        replace_hash("a:x:1:0:9:7:::\nadmin:*:1:0:9:7:::\n", "admin", "$6$s$h", 5)
        == "a:x:1:0:9:7:::\nadmin:$6$s$h:5:0:9:7:::\n"
    )


def _openssl_sha512(password: str, salt: str) -> str:
    """The hash by an implementation that is not ours: `openssl passwd -6` (Debian's openssl),
    the password on stdin as UTF-8 bytes, never in argv."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl")
    done = subprocess.run(
        [openssl, "passwd", "-6", "-salt", salt, "-stdin"],
        input=password.encode() + b"\n",
        capture_output=True,
        check=True,
        timeout=30,
    )
    return done.stdout.decode().strip()


def _admin_hash(engine: FakeEngine, ref: str) -> str:
    data = engine.archives.files[(engine.containers._resolve(ref).id, "/etc/shadow")][0]
    return next(line for line in data.decode().splitlines() if line.startswith("admin:")).split(":")[1]


def test_one_password_set_twice_gives_two_salts_and_two_hashes_each_verified_by_openssl(engine):
    """A fixed salt would give one hash per password (the same password recognisable across
    sites, one rainbow table for all): two settings of one password must differ."""
    engine.containers.add("site2")
    password = "été à la plage, 2026"
    Login(engine).apply("site1", Credentials(password=password))
    Login(engine).apply("site2", Credentials(password=password))
    first, second = _admin_hash(engine, "site1"), _admin_hash(engine, "site2")
    assert first != second
    for hashed in (first, second):
        prefix, salt = hashed.split("$")[1:3]
        assert prefix == "6" and len(salt) == 16
        assert hashed == _openssl_sha512(password, salt)
    Login(engine).apply("site1", Credentials(password=password))
    assert _admin_hash(engine, "site1") not in (first, second)


@pytest.mark.parametrize(
    "password",
    [
        "été à la plage",
        "naïve façade",
        "Ærøskøbing-København",
        "пароль-очень-длинный",
        "密码密码密码密码密码密码",
        "x" * 128,
    ],
)
def test_the_hash_of_a_non_ascii_password_is_that_of_its_utf8_bytes_as_openssl_makes_it(password):
    assert sha512_crypt(password, "Zk9.aQ2/xY7pLm3N") == _openssl_sha512(password, "Zk9.aQ2/xY7pLm3N")


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/shadow"])
def test_a_passwd_or_shadow_past_its_cap_is_a_409_and_nothing_is_written(engine, path):
    cid = engine.containers._resolve("site1").id
    engine.archives.files[(cid, path)] = (b"x" * (2 << 20), 0o644, 0, 0)
    before = dict(engine.archives.files)
    with pytest.raises(OversizedFile, match=f"^the container's {path} is over 1 MiB"):
        Login(engine).apply("site1", Credentials(password="correct horse battery"))
    assert engine.archives.files == before


def test_containers_fresh_from_one_image_read_its_passwd_and_shadow_once(engine):
    engine.containers.add("site2")
    reads = []
    get = engine.archives.get
    engine.archives.get = lambda ref, path, **kw: reads.append(path) or get(ref, path, **kw)
    login = Login(engine)
    login.apply("site1", Credentials(password="first password 1"), fresh_from="sha256:aa")
    login.apply("site2", Credentials(password="second password 2"), fresh_from="sha256:aa")
    assert reads == ["/etc/passwd", "/etc/shadow"]
    cid2 = engine.containers._resolve("site2").id
    data, mode, uid, gid = engine.archives.files[(cid2, "/etc/shadow")]
    hashed = next(line for line in data.decode().splitlines() if line.startswith("admin:")).split(":")[1]
    assert hashed == sha512_crypt("second password 2", hashed.split("$")[2])
    assert data.decode().startswith("root:*:") and (mode, uid, gid) == (0o640, 0, 42)
    for password in ("third password 3", "fourth password 4"):  # later: its own files, read each time
        login.apply("site2", Credentials(password=password))
    assert reads[2:] == ["/etc/passwd", "/etc/shadow"] * 2
