"""TLS to a remote engine (`tcp://host:port`), as the docker CLI does it: a directory
holding `ca.pem` (the CA that signed the engine's certificate), `cert.pem` and `key.pem`
(this client's certificate and key, which an engine run with `--tlsverify` requires).

With `verify` the engine's certificate must be signed by `ca.pem` and name the host;
without it the connection is encrypted but the engine is not authenticated (the CLI's
`--tls`), which only makes sense on a network you trust.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

__all__ = ["TLSConfig", "describe_tls_error"]


@dataclass(frozen=True)
class TLSConfig:
    cert_path: str
    verify: bool = True

    @property
    def ca(self) -> str:
        return os.path.join(self.cert_path, "ca.pem")

    @property
    def client_cert(self) -> tuple[str, str] | None:
        """(cert.pem, key.pem) when both are there; an engine with --tlsverify needs them."""
        cert, key = os.path.join(self.cert_path, "cert.pem"), os.path.join(self.cert_path, "key.pem")
        return (cert, key) if os.path.isfile(cert) and os.path.isfile(key) else None

    def check(self) -> None:
        """Refuse, with one line, a directory that cannot work (checked once, at start)."""
        if not os.path.isdir(self.cert_path):
            raise ValueError(f"not a directory: {self.cert_path}")
        if self.verify and not os.path.isfile(self.ca):
            raise ValueError(f"{self.ca} is missing (needed to verify the engine)")
        cert, key = os.path.join(self.cert_path, "cert.pem"), os.path.join(self.cert_path, "key.pem")
        if os.path.isfile(cert) != os.path.isfile(key):
            raise ValueError(f"cert.pem and key.pem go together: only one is in {self.cert_path}")

    def context(self) -> ssl.SSLContext:
        """The client context for sockets opened by hand (the stats fan-out)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.verify:
            ctx.load_verify_locations(self.ca)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            ctx.load_cert_chain(*self.client_cert)
        # The engine may close without close_notify once it has sent a `Connection: close` answer.
        ctx.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        return ctx


_REFUSED_CLIENT = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "HANDSHAKE_FAILURE",
    "CERTIFICATE_UNKNOWN",
    "ACCESS_DENIED",
)


_CLOSED = (
    "EOF OCCURRED",
    "UNEXPECTED_EOF",
    "CONNECTION RESET",
    "CONNECTION ABORTED",
    "CLOSED THE CONNECTION",
    "REMOTE END CLOSED",
)


def describe_tls_error(where: str, tls: TLSConfig, error: BaseException) -> str | None:
    """One line saying what went wrong in TLS with the engine, or None when `error` is not a
    TLS failure (the engine is then simply unreachable)."""
    text = str(error)
    upper = text.upper()
    if "CERTIFICATE_VERIFY_FAILED" in upper or "HOSTNAME MISMATCH" in upper:
        return (
            f"TLS to the Docker engine at {where} failed: its certificate was not accepted with the CA "
            f"in {tls.ca} (wrong CA, or a certificate for another host)"
        )
    if any(reason in upper for reason in _REFUSED_CLIENT):
        mine = "none was sent: no cert.pem/key.pem" if tls.client_cert is None else "cert.pem was refused"
        return (
            f"TLS to the Docker engine at {where} failed: the engine requires a client certificate signed by "
            f"its CA ({mine} in {tls.cert_path})"
        )
    if tls.client_cert is None and any(eof in upper for eof in _CLOSED):
        # TLS 1.3: the engine checks the client's certificate after the client's side of the
        # handshake is done; refused, it may close without an alert the client sees.
        return (
            f"TLS to the Docker engine at {where} failed: the engine closed the connection, most likely because "
            f"it requires a client certificate signed by its CA (none was sent: no cert.pem/key.pem in {tls.cert_path})"
        )
    if isinstance(error, ssl.SSLError) or "SSL" in upper or "TLS" in upper:
        reason = " ".join(text.split())[:200]
        return f"TLS to the Docker engine at {where} failed: {reason}"
    return None
