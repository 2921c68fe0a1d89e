"""Each site's two names in nginx: `<name>.<domain>` → the site's port 80, `ssh.<name>.<domain>`
→ its web terminal. Written atomically, checked with `nginx -t` before any reload, and never
over a file dockerlink did not write (its first line says who wrote it).

Two layouts (docs/operations.md, "Domains"):

- routes (the default): one shared file, `nginx_dir/dockerlink.conf`, holds a site server and
  a terminal server for every site (their names: any `<label>.<domain>`, any
  `ssh.<label>.<domain>`), and a map from each site's two names to its upstreams, which
  includes one small file per site, `<name>.map` in the routes directory beside
  `nginx_dir`. Why: nginx's check and reload parse every server block, and their cost grows
  faster than the number of blocks (docs/benchmarks.md: 124 ms for 1000 sites' server
  files, 0.41 s for 2000); with the shared servers a site costs nginx two map entries and
  one file to open, and a create's check and reload stay at a few ms.
- own servers (`tls = certbot`): one server file per site, `nginx_dir/dockerlink-<name>.conf`,
  because `certbot --nginx` installs each site's certificate into its own server block.
- routes with TLS (`tls = certbot-routes`): the routes layout, whose two shared servers also
  listen with TLS and load each site's certificate at the handshake from its copy
  (`keycopies.py`), named through a second map (`<name>.tls` beside `<name>.map`), and
  serve certbot's webroot challenges. A site is still two files of map lines, so a
  create's check and reload do not grow with the number of sites, with TLS or without.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import Conflicting, ProxyError
from ..storage import write_atomically
from .keycopies import KeyCopies

__all__ = [
    "HEADER",
    "DNS_LABEL",
    "Route",
    "SharedTLS",
    "SiteFiles",
    "server_file",
    "shared_file",
    "is_dns_label",
    "tls_names",
]

log = logging.getLogger("dockerlink.access")

HEADER = "# dockerlink site file"
DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LABEL = re.compile(DNS_LABEL)
COMMAND_TIMEOUT = 60
#: The complaint shown in a 502 is nginx's own, cut to this many characters.
MAX_COMPLAINT = 400
#: The routes directory's name, beside `nginx_dir` (never inside it: an `include
#: sites-enabled/*` would try to read a directory there as a file).
ROUTES_DIR = "dockerlink-routes"
#: certbot's webroot (`--webroot-path`), beside `nginx_dir` too: the shared servers serve
#: its `/.well-known/acme-challenge/` for every site name.
WEBROOT_DIR = "dockerlink-acme"

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def is_dns_label(name: str) -> bool:
    return bool(_LABEL.fullmatch(name))


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)


@dataclass(frozen=True)
class Route:
    """A site's names and where nginx reaches them. Every input is validated before it gets
    here (the name as a DNS label, the domain by Config, the ports as integers)."""

    name: str
    domain: str
    upstream_ip: str
    site_port: int
    terminal_port: int

    def __post_init__(self) -> None:
        if not is_dns_label(self.name):
            raise ValueError(f"not a DNS label: {self.name!r}")

    @property
    def site_host(self) -> str:
        return f"{self.name}.{self.domain}"

    @property
    def terminal_host(self) -> str:
        return f"ssh.{self.name}.{self.domain}"

    def map_file(self) -> str:
        """The route: the site's two entries in the shared servers' map."""
        return (
            f"{HEADER} for {self.name}: written by dockerlink, removed when the site is deleted.\n"
            f"{self.site_host} {self.upstream_ip}:{self.site_port};\n"
            f"{self.terminal_host} {self.upstream_ip}:{self.terminal_port};\n"
        )

    def tls_file(self) -> str:
        """The site's two entries in the TLS map: both names to the site's certificate copy."""
        return (
            f"{HEADER} for {self.name}: written by dockerlink, removed when the site is deleted.\n"
            f"{self.site_host} {self.name};\n"
            f"{self.terminal_host} {self.name};\n"
        )


@dataclass(frozen=True)
class SharedTLS:
    """The shared servers' TLS (`tls = certbot-routes`): where they listen with it, the
    certificate copies they load, and certbot's webroot."""

    listen: str
    copies: KeyCopies
    webroot: Path


#: What both locations (the site, its terminal) tell the upstream about the request.
_PROXY_HEADERS = """\
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;"""

#: The terminal long-polls (shellinabox) or upgrades (websocket terminals): no buffering,
#: and an idle session may wait an hour.
_TERMINAL = f"""{_PROXY_HEADERS}
        proxy_set_header Connection "upgrade";
        proxy_buffering off;
        proxy_cache off;
        proxy_read_timeout 3600s;
        proxy_send_timeout 3600s;"""

_SITE = f"""{_PROXY_HEADERS}
        proxy_set_header Connection $http_connection;"""


def server_file(route: Route, listen: str) -> str:
    """A site's own server file (the own-servers layout)."""
    return f"""{HEADER} for {route.name}: written by dockerlink, removed when the site is deleted.
# Do not edit: a change is lost when the site is made again.
server {{
    listen {listen};
    server_name {route.site_host};
    location / {{
        proxy_pass http://{route.upstream_ip}:{route.site_port};
{_SITE}
    }}
}}
server {{
    listen {listen};
    server_name {route.terminal_host};
    location / {{
        proxy_pass http://{route.upstream_ip}:{route.terminal_port};
{_TERMINAL}
    }}
}}
"""


def shared_file(domain: str, listen: str, routes: Path, tls: SharedTLS | None = None) -> str:
    """The shared servers of the routes layout. Their names are regular expressions, so a
    server of the operator's with an exact or wildcard name under the domain comes first
    (nginx's order); a name without a route answers 404, never another site. `domain` is
    validated by Config (labels of `[a-z0-9-]`): only its dots need escaping.

    With `tls`, both servers also listen with TLS; the certificate's file is named by the
    TLS map only (a site's name, a DNS label), never by the client's own server name, which
    nginx 1.22 does not check before it opens the file (a name such as `../x` was tried)."""
    escaped = domain.replace(".", r"\.")
    tls_map = tls_lines = ""
    if tls is not None:
        pem = tls.copies.directory / "$dockerlink_tls.pem"
        tls_map = f"""map $ssl_server_name $dockerlink_tls {{
    hostnames;
    default "";
    include {routes}/*.tls;
}}
"""
        tls_lines = f"""
    listen {tls.listen} ssl;
    ssl_certificate {pem};
    ssl_certificate_key {pem};
    ssl_password_file {tls.copies.password_file};
    location ^~ /.well-known/acme-challenge/ {{ root {tls.webroot}; }}"""
    return f"""{HEADER}: the servers of every site, one route per site in {routes}/.
# Written by dockerlink, again when its settings change: do not edit.
map $host $dockerlink_upstream {{
    hostnames;
    default "";
    include {routes}/*.map;
}}
{tls_map}server {{
    listen {listen};{tls_lines}
    server_name "~^[a-z0-9-]+\\.{escaped}$";
    location / {{
        if ($dockerlink_upstream = "") {{ return 404; }}
        proxy_pass http://$dockerlink_upstream;
{_SITE}
    }}
}}
server {{
    listen {listen};{tls_lines}
    server_name "~^ssh\\.[a-z0-9-]+\\.{escaped}$";
    location / {{
        if ($dockerlink_upstream = "") {{ return 404; }}
        proxy_pass http://$dockerlink_upstream;
{_TERMINAL}
    }}
}}
"""


@dataclass(frozen=True)
class SiteFiles:
    """The site files under `directory` (and its routes directory beside it), and the
    commands that check and reload nginx."""

    directory: Path
    check_cmd: tuple[str, ...]
    reload_cmd: tuple[str, ...]
    listen: str = "80"
    #: One server file per site (`tls = certbot`) instead of routes in the shared servers.
    own_servers: bool = False
    #: The shared servers' TLS (`tls = certbot-routes`; routes layout only).
    tls: SharedTLS | None = None
    run: Runner = _run

    @property
    def routes(self) -> Path:
        return self.directory.parent / ROUTES_DIR

    @property
    def shared(self) -> Path:
        return self.directory / "dockerlink.conf"

    def path(self, name: str) -> Path:
        """The site's own server file (the own-servers layout, and every site made before the
        routes layout)."""
        return self.directory / f"dockerlink-{name}.conf"

    def route_path(self, name: str) -> Path:
        return self.routes / f"{name}.map"

    def tls_path(self, name: str) -> Path:
        return self.routes / f"{name}.tls"

    def ours(self, name: str) -> bool:
        """The site has a route or a server file, and dockerlink wrote it."""
        return _ours(self.route_path(name)) or _ours(self.path(name))

    def add(self, route: Route) -> None:
        """Write, check, reload. A file that cannot be written, a failed check or a failed
        reload removes what this call wrote: ProxyError."""
        own, mapped, tls_mapped = self.path(route.name), self.route_path(route.name), self.tls_path(route.name)
        for p in (own, mapped, tls_mapped):
            if p.exists() and not _ours(p):
                raise Conflicting(f"{p} exists and was not written by dockerlink: not overwriting it")
        written: list[Path] = []
        shared_before: str | None = None
        try:
            if self.own_servers:
                write_atomically(own, server_file(route, self.listen))
                written.append(own)
                replaced = [mapped, tls_mapped]
            else:
                if self.tls is not None:  # the passphrase's file, named by the shared servers
                    self.tls.copies.prepare()
                    self.tls.webroot.mkdir(mode=0o755, exist_ok=True)
                shared_before = self._write_shared(route.domain)
                self.routes.mkdir(exist_ok=True)
                write_atomically(mapped, route.map_file())
                written.append(mapped)
                replaced = [own]  # its exact names would come before the route's
                if self.tls is not None:
                    write_atomically(tls_mapped, route.tls_file())
                    written.append(tls_mapped)
                else:
                    replaced.append(tls_mapped)  # from when `tls` was certbot-routes
            self._nginx(self.check_cmd, "check")
            _unlink(replaced)  # the other layout's files of this site: its names would clash
            self._nginx(self.reload_cmd, "reload")
        except (ProxyError, OSError) as exc:
            _unlink(written)
            if shared_before == "":
                self.shared.unlink(missing_ok=True)
            elif shared_before is not None:
                write_atomically(self.shared, shared_before)
            if isinstance(exc, OSError):  # e.g. a read-only /etc (docs/operations.md, "Turning domains on")
                where = f" {exc.filename}" if exc.filename else ""
                raise ProxyError(f"could not write the site's nginx files:{where}: {exc.strerror or exc}") from None
            raise

    def _write_shared(self, domain: str) -> str | None:
        """Write the shared file when it is missing ("" returned) or not what these settings
        make (its old text returned); None when it was already right."""
        text = shared_file(domain, self.listen, self.routes, self.tls)
        try:
            current = self.shared.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            current = ""
        if current and not current.startswith(HEADER):
            raise Conflicting(f"{self.shared} exists and was not written by dockerlink: not overwriting it")
        if current == text:
            return None
        write_atomically(self.shared, text)
        return current

    def remove(self, name: str) -> bool:
        """Remove the site's route and server file (only ours) and reload; False when there was none."""
        files = (self.route_path(name), self.tls_path(name), self.path(name))
        mine = [p for p in files if _ours(p)]
        for p in files:
            if p.exists() and p not in mine:
                log.warning("site file %s was not written by dockerlink: left in place", p)
        if not mine:
            return False
        _unlink(mine)
        try:
            self._nginx(self.reload_cmd, "reload")
        except ProxyError as exc:
            log.warning("after removing the site files of %s: %s", name, exc)
        return True

    def _nginx(self, argv: Sequence[str], what: str) -> None:
        try:
            r = self.run(argv)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ProxyError(f"nginx {what} ({argv[0]}) could not run: {exc}") from None
        if r.returncode != 0:
            complaint = " ".join((r.stderr or r.stdout or "").split())[:MAX_COMPLAINT]
            raise ProxyError(f"nginx {what} failed: {complaint or f'exit code {r.returncode}'}")


def tls_names(routes: Path) -> list[str]:
    """The sites with a TLS route (ours) in `routes`: those whose certificates nginx loads."""
    return sorted(p.stem for p in routes.glob("*.tls") if is_dns_label(p.stem) and _ours(p))


def _ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().startswith(HEADER)
    except FileNotFoundError:
        return False


def _unlink(paths: Sequence[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
