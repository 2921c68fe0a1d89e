"""One nginx server file per site: `<name>.<domain>` → the site's port 80, `ssh.<name>.<domain>`
→ its web terminal. Written atomically, checked with `nginx -t` before any reload, and
never over a file dockerlink did not write (its first line says who wrote it).
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

__all__ = ["HEADER", "DNS_LABEL", "SiteFiles", "server_file", "is_dns_label"]

log = logging.getLogger("dockerlink.access")

HEADER = "# dockerlink site file"
DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LABEL = re.compile(DNS_LABEL)
COMMAND_TIMEOUT = 60
#: The complaint shown in a 502 is nginx's own, cut to this many characters.
MAX_COMPLAINT = 400

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def is_dns_label(name: str) -> bool:
    return bool(_LABEL.fullmatch(name))


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)


#: What both locations (the site, its terminal) tell the upstream about the request.
_PROXY_HEADERS = """\
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;"""


def server_file(name: str, domain: str, listen: str, upstream_ip: str, site_port: int, terminal_port: int) -> str:
    """The server file's text. Every input is validated before it gets here (the name as a
    DNS label, the domain and listen address by Config, the ports as integers)."""
    if not is_dns_label(name):
        raise ValueError(f"not a DNS label: {name!r}")
    return f"""{HEADER} for {name}: written by dockerlink, removed when the site is deleted.
# Do not edit: a change is lost when the site is made again.
server {{
    listen {listen};
    server_name {name}.{domain};
    location / {{
        proxy_pass http://{upstream_ip}:{site_port};
{_PROXY_HEADERS}
        proxy_set_header Connection $http_connection;
    }}
}}
server {{
    listen {listen};
    server_name ssh.{name}.{domain};
    location / {{
        # The terminal long-polls (shellinabox) or upgrades (websocket terminals): no
        # buffering, and an idle session may wait an hour.
        proxy_pass http://{upstream_ip}:{terminal_port};
{_PROXY_HEADERS}
        proxy_set_header Connection "upgrade";
        proxy_buffering off;
        proxy_cache off;
        proxy_read_timeout 3600s;
        proxy_send_timeout 3600s;
    }}
}}
"""


@dataclass(frozen=True)
class SiteFiles:
    """The site files in `directory`, the commands that check and reload nginx."""

    directory: Path
    check_cmd: tuple[str, ...]
    reload_cmd: tuple[str, ...]
    run: Runner = _run

    def path(self, name: str) -> Path:
        return self.directory / f"dockerlink-{name}.conf"

    def ours(self, name: str) -> bool:
        """The site's file exists and dockerlink wrote it."""
        try:
            with open(self.path(name), encoding="utf-8", errors="replace") as f:
                return f.readline().startswith(HEADER)
        except FileNotFoundError:
            return False

    def add(self, name: str, text: str) -> None:
        """Write, check, reload. A failed check or reload removes the file again: ProxyError."""
        path = self.path(name)
        if path.exists() and not self.ours(name):
            raise Conflicting(f"{path} exists and was not written by dockerlink: not overwriting it")
        write_atomically(path, text)
        try:
            self._nginx(self.check_cmd, "check")
            self._nginx(self.reload_cmd, "reload")
        except ProxyError:
            path.unlink(missing_ok=True)
            raise

    def remove(self, name: str) -> bool:
        """Remove the site's file (only ours) and reload; False when there was none."""
        if not self.ours(name):
            if self.path(name).exists():
                log.warning("site file %s was not written by dockerlink: left in place", self.path(name))
            return False
        self.path(name).unlink(missing_ok=True)
        try:
            self._nginx(self.reload_cmd, "reload")
        except ProxyError as exc:
            log.warning("after removing the site file of %s: %s", name, exc)
        return True

    def _nginx(self, argv: Sequence[str], what: str) -> None:
        try:
            r = self.run(argv)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ProxyError(f"nginx {what} ({argv[0]}) could not run: {exc}") from None
        if r.returncode != 0:
            complaint = " ".join((r.stderr or r.stdout or "").split())[:MAX_COMPLAINT]
            raise ProxyError(f"nginx {what} failed: {complaint or f'exit code {r.returncode}'}")
