"""certbot's lineages made by hand: a self-signed certificate for some names and its key,
where certbot keeps them (`<config>/live/<cert-name>/fullchain.pem`, `privkey.pem`).

Also a stand-in for `certbot certonly --webroot` (`python -m tests.access.lineages …`),
which answers the webroot's challenge the way an ACME server checks it (a GET of
`/.well-known/acme-challenge/<token>` for each name, through nginx) before it writes the
lineage."""

from __future__ import annotations

import argparse
import datetime
import secrets
import sys
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def make_key(kind: str = "ec"):  # noqa: ANN201 - a cryptography private key
    return ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)


def certificate(names: list[str], key, serial: int | None = None) -> bytes:  # noqa: ANN001
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def write_lineage(config_dir: Path, cert_name: str, names: list[str], kind: str = "ec", key=None) -> Path:  # noqa: ANN001
    """The lineage's directory; its certificate PEM is `fullchain.pem` (self-signed: no chain)."""
    key = key or make_key(kind)
    live = config_dir / "live" / cert_name
    live.mkdir(parents=True, exist_ok=True)
    (live / "fullchain.pem").write_bytes(certificate(names, key))
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (live / "privkey.pem").write_bytes(plain)
    (live / "privkey.pem").chmod(0o600)
    return live


def _stand_in(argv: list[str]) -> int:
    """`certonly --webroot … --webroot-path W --cert-name C -d A -d B` against a private
    nginx on `--http` (host:port): each name's challenge must be served from W."""
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--webroot-path", required=True)
    ap.add_argument("--cert-name", required=True)
    ap.add_argument("-d", action="append", dest="names", required=True)
    args, _ = ap.parse_known_args(argv)
    challenges = Path(args.webroot_path) / ".well-known" / "acme-challenge"
    challenges.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        token = secrets.token_urlsafe(16)
        (challenges / token).write_text(token)
        got = requests.get(f"http://{args.http}/.well-known/acme-challenge/{token}", headers={"Host": name}, timeout=10)
        (challenges / token).unlink()
        if got.status_code != 200 or got.text != token:
            print(f"Challenge failed for domain {name}: {got.status_code}", file=sys.stderr)
            return 1
    write_lineage(Path(args.config_dir), args.cert_name, args.names)
    return 0


if __name__ == "__main__":
    sys.exit(_stand_in(sys.argv[1:]))
