"""The collector's `tls-copies` job (`tls = certbot-routes`): certbot renews each site's
lineage by itself (its own timer), and nginx's shared servers load the copy in
`dockerlink-certs/`, so a renewed lineage is copied again here. A copy is written only when
certbot's chain changed, and nginx reads it at the next handshake: no reload.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Config
from ..jobs import Job, Wait
from . import shared_tls
from .sites import ROUTES_DIR, tls_names

__all__ = ["copies_job", "EVERY"]

log = logging.getLogger("dockerlink.access")

#: Seconds between two looks: certbot renews 30 days before a certificate ends.
EVERY = 3600.0


def copies_job(config: Config) -> Job | None:
    """The job, with the shared servers' TLS only."""
    shared = shared_tls(config)
    if shared is None:
        return None
    routes = Path(config.nginx_dir).parent / ROUTES_DIR

    def run(wait: Wait) -> None:
        while True:
            copied = shared.copies.refresh(tls_names(routes))
            if copied:
                log.info("renewed certificates copied for nginx: %s", ", ".join(copied))
            if wait(EVERY):
                return

    return Job("tls-copies", run)
