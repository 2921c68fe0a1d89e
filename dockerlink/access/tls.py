"""Certificates for a site's two names from certbot, in the background.

A site's state is a small file (`pending`, `ok` or `failed: <reason>`) in `state_dir`, so
every gunicorn worker's listing reads the same answer. With the shared servers' TLS
(`tls = certbot-routes`), certbot only gets the certificate (its lineage named after the
site, through the shared servers' webroot) and it is `ok` once its copy for nginx is
written (keycopies.py). Runs are serialised (certbot refuses
to run twice at once) by a lock file beside them. A run that a stopped worker abandoned
stays `pending`: the next create of the site asks again.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import ProxyError
from ..statefiles import FILES, locked
from ..storage import write_atomically
from .keycopies import lineage_name
from .sites import SharedTLS

__all__ = ["Certificates", "PENDING", "OK"]

log = logging.getLogger("dockerlink.access")

PENDING = "pending"
OK = "ok"
CERTBOT_TIMEOUT = 900
MAX_REASON = 300
#: The lock of one certbot run at a time, in `state_dir` (its name from the state files list).
CERTBOT_LOCK = Path(FILES["certbot_lock"].name).name


class Certificates:
    def __init__(self, certbot_cmd: Sequence[str], state_dir: Path, shared: SharedTLS | None = None) -> None:
        self.certbot_cmd = tuple(certbot_cmd)
        self.state_dir = state_dir
        self.shared = shared
        self._lock = threading.Lock()

    def _state_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.tls"

    def status(self, name: str) -> str | None:
        try:
            return self._state_file(name).read_text(encoding="utf-8").strip() or PENDING
        except FileNotFoundError:
            return None

    def forget(self, name: str) -> None:
        self._state_file(name).unlink(missing_ok=True)

    def request(self, name: str, hosts: Sequence[str]) -> threading.Thread:
        """Mark the site pending and ask certbot for `hosts` in a background thread."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write(name, PENDING)
        t = threading.Thread(target=self._run, args=(name, tuple(hosts)), name=f"certbot-{name}", daemon=True)
        t.start()
        return t

    def _run(self, name: str, hosts: tuple[str, ...]) -> None:
        argv = [*self.certbot_cmd]
        if self.shared is not None:
            argv += ["--webroot-path", str(self.shared.webroot), "--cert-name", lineage_name(name)]
        argv += [a for h in hosts for a in ("-d", h)]
        try:
            with self._lock, locked(self.state_dir / CERTBOT_LOCK):
                r = subprocess.run(argv, capture_output=True, text=True, timeout=CERTBOT_TIMEOUT, check=False)
            if r.returncode == 0:
                state = OK
                if self.shared is not None:
                    self.shared.copies.install(name)
            else:
                lines = [line.strip() for line in (r.stderr or r.stdout or "").splitlines() if line.strip()]
                state = "failed: " + (lines[-1] if lines else f"exit code {r.returncode}")[:MAX_REASON]
        except subprocess.TimeoutExpired:
            state = f"failed: certbot ran over {CERTBOT_TIMEOUT} s"
        except ProxyError as exc:  # the certificate is there, but its copy for nginx is not
            state = f"failed: {exc}"[:MAX_REASON]
        except OSError as exc:
            state = f"failed: certbot could not run: {exc}"
        if self._state_file(name).exists():  # not deleted meanwhile
            self._write(name, state)
        log.info("tls for %s: %s", name, state)

    def _write(self, name: str, state: str) -> None:
        write_atomically(self._state_file(name), state + "\n", mode=0o600)
