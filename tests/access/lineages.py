"""certbot's lineages made by hand with openssl: a self-signed certificate for some names and
its key, where certbot keeps them (`<config>/live/<cert-name>/fullchain.pem`, `privkey.pem`).

Also a stand-in for `certbot certonly --webroot` (`python -m tests.access.lineages …`),
which answers the webroot's challenge the way an ACME server checks it (a GET of
`/.well-known/acme-challenge/<token>` for each name, through nginx) before it writes the
lineage."""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
from pathlib import Path

import requests

NEW_KEY = {"ec": ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"), "rsa": ("-newkey", "rsa:2048")}


def openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *map(str, args)], input=stdin, capture_output=True, check=True, timeout=60).stdout


def write_lineage(config_dir: Path, cert_name: str, names: list[str], kind: str = "ec", same_key: bool = False) -> Path:
    """The lineage's directory: a new certificate for `names` (self-signed, so it is its own
    chain), with a new key of `kind`, or the lineage's key again (`same_key`: a renewal)."""
    live = config_dir / "live" / cert_name
    live.mkdir(parents=True, exist_ok=True)
    key = ("-key", live / "privkey.pem") if same_key else (*NEW_KEY[kind], "-keyout", live / "privkey.pem")
    san = "subjectAltName=" + ",".join(f"DNS:{n}" for n in names)
    openssl("req", "-x509", *key, "-nodes", "-days", "2", "-subj", f"/CN={names[0]}", "-addext", san,
            "-out", live / "fullchain.pem")  # fmt: skip
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
