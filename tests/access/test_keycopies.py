"""The certificate copies nginx's shared TLS servers load (`tls = certbot-routes`), made with
the real openssl."""

from __future__ import annotations

import stat
import subprocess
import threading
from pathlib import Path

import pytest

from dockerlink.access.keycopies import KeyCopies
from dockerlink.access.renewals import copies_job
from dockerlink.config import Config
from dockerlink.errors import ProxyError

from .lineages import openssl, write_lineage


@pytest.fixture
def copies(tmp_path) -> KeyCopies:
    return KeyCopies(tmp_path / "certs", tmp_path / "letsencrypt")


def lineage(copies: KeyCopies, name: str = "site1", **kw) -> Path:  # noqa: ANN003
    names = [f"{name}.example.org", f"ssh.{name}.example.org"]
    return write_lineage(copies.certbot_dir, f"dockerlink-{name}", names, **kw)


def split(pem: bytes) -> tuple[bytes, bytes]:
    end = b"-----END CERTIFICATE-----"
    at = pem.rindex(end) + len(end)
    return pem[:at].strip(), pem[at:].strip()


def public_key(key: bytes, *passin: str) -> bytes:
    return openssl("pkey", "-pubout", *passin, stdin=key)


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_a_copy_is_the_chain_then_the_key_encrypted_under_the_passphrase(copies, kind):
    live = lineage(copies, kind=kind)
    assert copies.install("site1") is True
    chain, key = split(copies.path("site1").read_bytes())
    assert chain == (live / "fullchain.pem").read_bytes().strip()
    assert b"Proc-Type: 4,ENCRYPTED" in key and b"DEK-Info: AES-256-CBC," in key
    with pytest.raises(subprocess.CalledProcessError):
        public_key(key, "-passin", "pass:not-the-passphrase")
    opened = public_key(key, "-passin", f"file:{copies.password_file}")
    assert opened == public_key((live / "privkey.pem").read_bytes())


def test_the_passphrase_is_random_and_root_only_and_the_copy_readable_by_all(copies, tmp_path):
    lineage(copies)
    copies.install("site1")
    password = copies.password_file.read_text().strip()
    assert len(password) == 64 and int(password, 16) >= 0
    assert stat.S_IMODE(copies.password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(copies.path("site1").stat().st_mode) == 0o644
    assert password.encode() not in copies.path("site1").read_bytes()
    other = KeyCopies(tmp_path / "other", tmp_path / "letsencrypt")
    other.prepare()
    assert other.password_file.read_text().strip() != password
    assert sorted(p.name for p in copies.directory.iterdir()) == [".password", "site1.pem"]  # no temporary file


def test_workers_preparing_at_once_agree_on_one_passphrase(copies):
    seen: list[bytes] = []

    def prepare() -> None:
        copies.prepare()
        seen.append(copies.password_file.read_bytes())

    threads = [threading.Thread(target=prepare) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(seen) == 8
    assert [p.name for p in copies.directory.iterdir()] == [".password"]


def test_an_unchanged_lineage_is_not_copied_again_and_a_renewed_one_is(copies):
    lineage(copies)
    assert copies.install("site1") is True
    first = copies.path("site1").read_bytes()
    assert copies.install("site1") is False and copies.path("site1").read_bytes() == first
    live = lineage(copies, same_key=True)  # renewed: a new certificate for the same key
    assert copies.refresh(["site1", "site2"]) == ["site1"]  # site2 has no lineage: skipped
    chain, _ = split(copies.path("site1").read_bytes())
    assert chain == (live / "fullchain.pem").read_bytes().strip() and chain not in first


def test_a_key_that_is_not_the_certificates_is_refused_and_nothing_is_written(copies, tmp_path):
    live = lineage(copies)
    other = write_lineage(tmp_path / "other", "x", ["x.example.org"])
    (live / "privkey.pem").write_bytes((other / "privkey.pem").read_bytes())
    with pytest.raises(ProxyError, match="the key is not the certificate's"):
        copies.install("site1")
    assert not copies.path("site1").exists()


@pytest.mark.parametrize("broken", ["missing", "not a pem", "huge", "no key"])
def test_a_lineage_that_cannot_be_read_is_a_one_line_proxy_error(copies, broken):
    live = lineage(copies)
    if broken == "missing":
        (live / "fullchain.pem").unlink()
    elif broken == "not a pem":
        (live / "fullchain.pem").write_text("hello\n")
    elif broken == "huge":
        (live / "fullchain.pem").write_bytes(b"A" * 70000)
    else:
        (live / "privkey.pem").write_text("not a key\n")
    with pytest.raises(ProxyError) as exc:
        copies.install("site1")
    assert "\n" not in str(exc.value) and str(exc.value).startswith("certificate of site1 not copied for nginx:")
    assert not copies.path("site1").exists()


def test_the_renewal_job_is_there_only_with_certbot_routes_and_copies_renewed_lineages(tmp_path):
    nginx_dir = tmp_path / "nginx" / "conf.d"
    nginx_dir.mkdir(parents=True)
    assert copies_job(Config(nginx_dir=str(nginx_dir), site_tls="certbot")) is None
    config = Config(nginx_dir=str(nginx_dir), site_tls="certbot-routes", certbot_dir=str(tmp_path / "le"))
    job = copies_job(config)
    assert job is not None and job.name == "tls-copies"
    routes = tmp_path / "nginx" / "dockerlink-routes"
    routes.mkdir()
    (routes / "site1.tls").write_text("# dockerlink site file for site1\nsite1.example.org site1;\n")
    (routes / "theirs.tls").write_text("theirs.example.org theirs;\n")  # not ours: left alone
    for name in ("site1", "theirs"):
        write_lineage(tmp_path / "le", f"dockerlink-{name}", [f"{name}.example.org"])
    waits: list[float] = []
    job.run(lambda seconds: waits.append(seconds) or True)
    certs = tmp_path / "nginx" / "dockerlink-certs"
    assert sorted(p.name for p in certs.iterdir()) == [".password", "site1.pem"]
    assert waits == [3600.0]


def test_a_passphrase_made_again_has_every_copy_made_again(copies):
    lineage(copies)
    copies.install("site1")
    copies.password_file.unlink()  # the operator removed it: the next prepare makes a new one
    copies.prepare()
    assert copies.refresh(["site1"]) == ["site1"]
    _, key = split(copies.path("site1").read_bytes())
    public_key(key, "-passin", f"file:{copies.password_file}")  # opens under the new passphrase
