"""The sites' certificates as nginx's shared TLS servers load them (`tls = certbot-routes`).

nginx 1.22 loads a certificate named by a variable (`ssl_certificate …/$dockerlink_tls.pem`)
at each handshake, in a worker process: the workers run as `www-data` (or `nobody`) and
cannot read certbot's private keys (root, 0600), and a key made readable to that user is
readable to every other process of that user on the host. So each site gets one file here,
`<name>.pem`: certbot's full chain, then the private key encrypted under one random
passphrase. The file may be read by anyone; the passphrase is in `.password` (root, 0600),
which nginx's master reads at each check and reload (`ssl_password_file`) and hands to its
workers in memory, where static certificates' keys live anyway. The key is written in
OpenSSL's traditional encrypted PEM (AES-256-CBC, one MD5 round to derive the key): a
32-byte random passphrase needs no slow derivation, and each handshake decrypts the key.

Chain and key are one file, replaced in one rename, so a handshake never pairs a new
chain with an old key. Why copies and not certbot's files themselves: see above; why not
static `ssl_certificate` lines: nginx parses every one at each check and reload, and that
grows with the number of sites (docs/benchmarks.md, "nginx").

certbot renews its lineage (`<certbot_dir>/live/dockerlink-<name>/`) by itself; the
collector's `tls-copies` job copies a renewed one again (nginx reads it at the next
handshake, with no reload).
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProxyError
from ..storage import write_atomically

__all__ = ["KeyCopies", "lineage_name", "CERTS_DIR"]

log = logging.getLogger("dockerlink.access")

#: The copies' directory, beside `nginx_dir` (never inside it: nginx includes `*.conf` there).
CERTS_DIR = "dockerlink-certs"
PASSWORD = ".password"
#: The largest lineage file read (a full chain is a few KiB).
MAX_PEM = 64 * 1024
_BEGIN, _END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
OPENSSL_TIMEOUT = 30


def lineage_name(name: str) -> str:
    """certbot's `--cert-name` for a site: its lineage's directory under `live/`."""
    return f"dockerlink-{name}"


@dataclass(frozen=True)
class KeyCopies:
    directory: Path
    certbot_dir: Path

    @property
    def password_file(self) -> Path:
        return self.directory / PASSWORD

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.pem"

    def lineage(self, name: str) -> Path:
        return self.certbot_dir / "live" / lineage_name(name)

    def prepare(self) -> None:
        """The directory and the passphrase, made once (before nginx's first check of the
        shared servers, which name the passphrase's file). Two workers at once: the first
        link wins and both use it."""
        self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        if self.password_file.exists():
            return
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".password.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:  # mkstemp: 0600
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, self.password_file)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def install(self, name: str) -> bool:
        """Copy the site's lineage (chain and encrypted key) when it differs from the copy;
        True when a new copy was written. ProxyError when the lineage cannot be read or its
        key is not its certificate's.

        openssl does the key's work (Debian's `openssl`, beside nginx's own library): the
        key goes from certbot's file to openssl's output, and the passphrase by its file's
        name (`-passout file:`), never in an argv. Not the `cryptography` package: PyJWT
        imports it whenever it is installed, about 8 MiB more in every worker."""
        lineage = self.lineage(name)
        chain_file, key_file = lineage / "fullchain.pem", lineage / "privkey.pem"
        try:
            chain = _read(chain_file).strip()
            if not chain.startswith(_BEGIN) or not chain.endswith(_END):
                raise ValueError("fullchain.pem is not a chain of PEM certificates")
            chain_text = chain.decode("ascii")
            if self._current(name, chain):
                return False
            if _openssl("x509", "-noout", "-pubkey", "-in", chain_file) != _openssl("pkey", "-pubout", "-in", key_file):
                raise ValueError("the key is not the certificate's")
            self.prepare()
            locked = _openssl(
                "pkey", "-in", key_file, "-aes256", "-traditional", "-passout", f"file:{self.password_file}"
            )
        except (OSError, ValueError) as exc:
            raise ProxyError(f"certificate of {name} not copied for nginx: {lineage}: {_reason(exc)}") from None
        write_atomically(self.path(name), chain_text + "\n" + locked.decode("ascii"), mode=0o644)
        return True

    def _current(self, name: str, chain: bytes) -> bool:
        """The site's copy holds this chain, under the passphrase there now (a passphrase
        made again, after its file was removed, needs every copy made again)."""
        try:
            copy = self.path(name)
            if copy.stat().st_mtime_ns < self.password_file.stat().st_mtime_ns:
                return False
            text = copy.read_bytes()
        except OSError:
            return False
        end = text.rfind(_END)
        return end >= 0 and text[: end + len(_END)].strip() == chain

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def refresh(self, names: Iterable[str]) -> list[str]:
        """Copy again each site's lineage that certbot renewed; the sites copied. A site
        whose lineage is not there yet (certbot still running, or it failed) is skipped."""
        copied = []
        for name in names:
            if not self.lineage(name).exists():
                continue
            try:
                if self.install(name):
                    copied.append(name)
            except (ProxyError, OSError) as exc:
                log.warning("%s", exc)
        return copied


def _read(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_PEM + 1)
    if len(data) > MAX_PEM:
        raise ValueError(f"larger than {MAX_PEM} bytes")
    return data


def _openssl(*args: str | Path) -> bytes:
    """openssl's output; ValueError with its last line when it fails."""
    try:
        r = subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=OPENSSL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ValueError(f"openssl {args[0]} ran over {OPENSSL_TIMEOUT} s") from None
    if r.returncode != 0:
        lines = [line for line in r.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        raise ValueError(f"openssl {args[0]}: {lines[-1] if lines else f'exit code {r.returncode}'}")
    return r.stdout


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
