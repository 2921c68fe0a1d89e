"""Site access: the owner's login, the web terminal, and a domain per site (docs/contract.md §6.1).

    credentials.py  password and SSH key rules; a random password when none is given
    sha512crypt.py  the `$6$` hash written into the container's /etc/shadow
    login.py        password hash and authorized_keys into a container (archive API, no exec)
    sessions.py     ending the live SSH and terminal logins once a credential is taken away
    sites.py        nginx: each site's route (or server file), written atomically, checked, reloaded
    tls.py          certbot in the background; per-site state pending | ok | failed: …
    keycopies.py    each site's certificate as the shared TLS servers load it (certbot-routes)

`Access` is the one entry point hosting and the resources use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Config
from ..engine import Engine, PortBinding
from ..errors import InvalidInput
from ..statefiles import StateFiles
from ..timings import step
from .credentials import Credentials, parse_credentials
from .keycopies import CERTS_DIR, KeyCopies
from .login import Login, MissingUser, key_ids, site_account
from .sessions import Sessions
from .sites import DNS_LABEL, WEBROOT_DIR, Route, SharedTLS, SiteFiles, is_dns_label
from .tls import Certificates

__all__ = [
    "Access",
    "Credentials",
    "TERMINAL_PORT",
    "TERMINAL_IP",
    "check_site_name",
    "shared_tls",
    "parse_credentials",
    "site_account",
]

#: The web terminal's port in the base image (shellinaboxd --port); published on
#: 127.0.0.1:<root> only, reached through the proxy.
TERMINAL_PORT = 4200
TERMINAL_IP = "127.0.0.1"
SITE_PORT = 80


def check_site_name(name: str, config: Config) -> None:
    """With domains on, a site's name is a DNS label (it becomes `<name>.<site_domain>`)."""
    if config.site_domain and not is_dns_label(name):
        raise InvalidInput("name", f"must be a DNS label ({DNS_LABEL}) while site_domain is set")


def shared_tls(config: Config) -> SharedTLS | None:
    """The shared servers' TLS with `tls = certbot-routes`: copies and webroot beside
    `nginx_dir` (with the routes), the lineages under `certbot_dir`."""
    if config.site_tls != "certbot-routes":
        return None
    beside = Path(config.nginx_dir).parent
    copies = KeyCopies(beside / CERTS_DIR, Path(config.certbot_dir))
    return SharedTLS(config.nginx_tls_listen, copies, beside / WEBROOT_DIR)


class Access:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        sites: SiteFiles | None = None,
        certificates: Certificates | None = None,
    ) -> None:
        self.config = config
        self.shared_tls = shared_tls(config)
        self.login = Login(engine)
        self.sessions = Sessions(engine)
        self.sites = sites or SiteFiles(
            Path(config.nginx_dir),
            config.nginx_check,
            config.nginx_reload,
            listen=config.nginx_listen,
            own_servers=config.site_tls == "certbot",
            tls=self.shared_tls,
        )
        state_dir = Path(StateFiles.of(config).path("tls"))
        self.certificates = certificates or Certificates(config.certbot_cmd, state_dir, self.shared_tls)

    # -- create ----------------------------------------------------------------------------

    def terminal_binding(self, root: int) -> PortBinding:
        return PortBinding(TERMINAL_PORT, "tcp", TERMINAL_IP, root)

    def provision(
        self, container_id: str, name: str, root: int, creds: Credentials, image_id: str | None = None
    ) -> dict[str, Any]:
        """Login and site file of a new container (never started; made from `image_id`, when
        known); the fields to add to the create answer. Raises (ProxyError, MissingUser)
        leave the caller to undo the create."""
        extra: dict[str, Any] = {}
        try:
            with step("login"):
                self.login.apply(container_id, creds, fresh_from=image_id)
            if creds.generated:
                extra["password"] = creds.password
        except MissingUser:
            if not creds.generated:  # asked for explicitly: say it cannot be done
                raise
        with step("site file"):
            self.add_site(name, root)
        return extra

    def add_site(self, name: str, root: int) -> None:
        domain = self.config.site_domain
        if not domain:
            return
        check_site_name(name, self.config)
        self.sites.add(Route(name, domain, self._upstream_ip(), root + SITE_PORT, root + 0))
        if self.config.site_tls != "none":
            self.certificates.request(name, self.hostnames(name))

    def _upstream_ip(self) -> str:
        """Where nginx reaches the published ports: the publish address, loopback for any."""
        ip = self.config.publish_ip
        return "127.0.0.1" if ip in ("0.0.0.0", "::") else (f"[{ip}]" if ":" in ip else ip)

    def hostnames(self, name: str) -> tuple[str, str]:
        return f"{name}.{self.config.site_domain}", f"ssh.{name}.{self.config.site_domain}"

    # -- later -----------------------------------------------------------------------------

    def update_login(self, container_id: str, body: dict[str, Any]) -> None:
        """Set the owner's password and/or keys; a new password or a key taken away then
        ends the site's live logins, so no session outlives the credential it opened with."""
        creds = parse_credentials(body, generate=False)
        if creds.empty:
            raise InvalidInput("body", "give password, ssh_keys or both")
        revokes = creds.password is not None
        if not revokes and creds.ssh_keys is not None:
            revokes = not self.login.keys(container_id) <= key_ids(creds.ssh_keys)
        self.login.apply(container_id, creds)
        if revokes:
            self.sessions.end(container_id)

    def remove_site(self, name: str) -> None:
        self.sites.remove(name)
        self.certificates.forget(name)
        if self.shared_tls is not None:
            self.shared_tls.copies.remove(name)

    def describe(self, name: str) -> dict[str, Any]:
        """`urls` and `tls` of a site that has a dockerlink site file; {} otherwise."""
        if not self.config.site_domain or not is_dns_label(name) or not self.sites.ours(name):
            return {}
        tls = (self.certificates.status(name) or "none") if self.config.site_tls != "none" else "none"
        scheme = "https" if tls == "ok" else "http"
        site, terminal = self.hostnames(name)
        return {"urls": {"site": f"{scheme}://{site}/", "terminal": f"{scheme}://{terminal}/wetty"}, "tls": tls}

    def env(self) -> dict[str, Any]:
        return {"site_domain": self.config.site_domain, "tls": self.config.site_tls}
