"""Bench a create's nginx step with N sites vs none, in each layout.

    .venv/bin/python bench/nginx_sites.py [N] [--repeat 5]

A scratch nginx (its own prefix, pid file and free loopback ports; never the system's)
runs while dockerlink's own `SiteFiles.add` writes one more site's files, runs `nginx -t`
and `nginx -s reload` on it (what a create with `site_domain` does), then `remove` takes
the site away again (what a delete does). Measured with no other site, then with N, in:
- routes: the default, a route per site in shared servers (`tls = none`);
- own servers: a server file per site (`tls = certbot` before certbot ran, and every
  site before the routes), without certificates;
- own servers with certificates: the same once `certbot --nginx` installed each site's
  certificate in its server file (static `ssl_certificate` lines, as certbot writes them):
  what a host with `tls = certbot` really has;
- routes with TLS (`tls = certbot-routes`): the routes, a TLS route per site, and each
  site's certificate copy for the shared TLS servers.
Also prints `nginx -t` and `nginx -s reload` alone, by hand, on the same configurations
(the baseline that no client of nginx can go under), and in the two layouts with
certificates a TLS handshake's median with N sites (the routes load the site's copy at
each handshake; static certificates are loaded at each check and reload instead).
Everything it wrote is in a temporary directory, removed at the end; the scratch nginx
is stopped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median_ms  # noqa: E402
from dockerlink.access.keycopies import KeyCopies  # noqa: E402
from dockerlink.access.sites import Route, SharedTLS, SiteFiles, server_file  # noqa: E402
from tests.access.lineages import write_lineage  # noqa: E402

#: (name, a server file per site, certificates in the server files, the routes' TLS)
LAYOUTS = (
    ("routes", False, False, False),
    ("own servers", True, False, False),
    ("own servers with certificates", True, True, False),
    ("routes with TLS (certbot-routes)", False, False, True),
)

DOMAIN = "bench.test"


def _free_ports(k: int) -> list[int]:
    """k different free loopback ports (all bound at once, so never the same one twice)."""
    sockets = [socket.socket() for _ in range(k)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class ScratchNginx:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.chmod(0o755)  # the workers (not root) read the routes' certificate copies
        self.conf_d = root / "conf.d"
        self.conf_d.mkdir()
        port, self.tls_port = _free_ports(2)
        self.listen = f"127.0.0.1:{port}"
        for d in ("logs", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / d).mkdir()
        self.conf = root / "nginx.conf"
        self.conf.write_text(
            f"worker_processes 1; pid {root}/nginx.pid; error_log {root}/logs/error.log;\n"
            "events { worker_connections 64; }\n"
            f"http {{ access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;\n"
            f"  fastcgi_temp_path {root}/fastcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;\n"
            f"  include {self.conf_d}/*.conf; }}\n"
        )

    def argv(self, *args: str) -> tuple[str, ...]:
        return (
            "nginx",
            "-q",
            "-p",
            str(self.root),
            "-e",
            str(self.root / "logs/error.log"),
            "-c",
            str(self.conf),
            *args,
        )

    def stop(self) -> None:
        """Stop the master by its pid: `nginx -s quit` reads the configuration first, and a
        configuration a failed measure left broken would keep nginx running."""
        try:
            os.kill(int((self.root / "nginx.pid").read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass

    def workers(self) -> set[str]:
        master = (self.root / "nginx.pid").read_text().strip()
        ps = subprocess.run(["ps", "-o", "pid=", "--ppid", master], capture_output=True, text=True, timeout=30)
        return set(ps.stdout.split())

    def settle(self) -> None:
        """Reload, then wait until the workers of every earlier configuration are gone."""
        old = self.workers()
        self.run("-s", "reload")
        deadline = time.monotonic() + 60
        while old & self.workers():
            if time.monotonic() > deadline:
                raise RuntimeError("nginx's old workers did not exit within 60 s")
            time.sleep(0.05)

    def run(self, *args: str) -> None:
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=120, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"nginx {' '.join(args)}: {r.stderr.strip()}")


def route(i: int) -> Route:
    return Route(f"site{i}", DOMAIN, "127.0.0.1", 20000 + i % 10000, 30000 + i % 10000)


def fill(sites: SiteFiles, n: int, certificates: Path | None = None) -> None:
    """N sites' files written as `add` writes them, without N checks and reloads; with
    `certificates` (a lineage's directory), each server file with its certificate's lines
    as certbot --nginx installs them (a copy of the lineage's files per site)."""
    if sites.own_servers:
        for i in range(n):
            text = server_file(route(i), sites.listen)
            if certificates is not None:
                text = text.replace(f"    listen {sites.listen};\n", _certbot_lines(sites, certificates, i))
            sites.path(f"site{i}").write_text(text)
        return
    sites.routes.mkdir(exist_ok=True)
    for i in range(n):
        sites.route_path(f"site{i}").write_text(route(i).map_file())
        if sites.tls is not None:
            sites.tls_path(f"site{i}").write_text(route(i).tls_file())
            shutil.copyfile(sites.tls.copies.path("template"), sites.tls.copies.path(f"site{i}"))


def _certbot_lines(sites: SiteFiles, lineage: Path, i: int) -> str:
    own = lineage.parent / f"site{i}"
    if not own.exists():
        shutil.copytree(lineage, own)
    return (
        f"    listen {sites.listen};\n    listen {sites.tls.listen if sites.tls else ''} ssl;\n"
        f"    ssl_certificate {own}/fullchain.pem;\n    ssl_certificate_key {own}/privkey.pem;\n"
    )


def measure(n: int, repeat: int) -> dict[str, dict[str, tuple[float, float]]]:
    """{layout: {what: (ms with none, ms with n)}} for `add` (write, check, reload), `remove`
    (remove, reload), and `nginx -t` / `nginx -s reload` by hand; with certificates, a TLS
    handshake (with n only: the same figure twice)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for layout, own, certified, tls in LAYOUTS:
        with tempfile.TemporaryDirectory(prefix="dltest-bench-nginx-") as tmp:
            ngx = ScratchNginx(Path(tmp))
            ngx.run()  # the master, for the reloads
            try:
                out[layout] = measure_layout(ngx, own, certified, tls, n, repeat)
            finally:
                ngx.stop()
    return out


def measure_layout(
    ngx: ScratchNginx, own_servers: bool, certified: bool, tls: bool, n: int, repeat: int
) -> dict[str, tuple[float, float]]:
    root = ngx.root
    copies = KeyCopies(root / "dockerlink-certs", root / "letsencrypt")
    shared = SharedTLS(f"127.0.0.1:{ngx.tls_port}", copies, root / "dockerlink-acme")
    lineage = write_lineage(copies.certbot_dir, "dockerlink-template", [f"*.{DOMAIN}"])
    if tls:
        copies.install("template")
    sites = SiteFiles(
        ngx.conf_d,
        ngx.argv("-t"),
        ngx.argv("-s", "reload"),
        listen=ngx.listen,
        own_servers=own_servers,
        tls=shared if (tls or certified) else None,  # own servers: only `fill` reads it (the TLS listen)
    )
    figures: dict[str, list[float]] = {}
    for count in (0, n):
        fill(sites, count, lineage if certified else None)
        adds, removes = add_remove(sites, route(n + 1), repeat)
        figures.setdefault("add (write, nginx -t, reload)", []).append(adds)
        figures.setdefault("remove (unlink, reload)", []).append(removes)
        figures.setdefault("nginx -t by hand", []).append(median_ms(lambda: ngx.run("-t"), repeat))
        figures.setdefault("nginx -s reload by hand", []).append(median_ms(lambda: ngx.run("-s", "reload"), repeat))
    if (tls or certified) and n:
        ngx.settle()
        shake = handshake_ms(ngx.tls_port, f"site{n // 2}.{DOMAIN}", repeat * 20)
        figures["TLS handshake, with N sites"] = [shake, shake]
    return {what: (a, b) for what, (a, b) in figures.items()}


def handshake_ms(port: int, host: str, repeat: int) -> float:
    """Median ms of a TLS connection and handshake to `host` (SNI) on loopback."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def one() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=host):
                pass

    return median_ms(one, repeat)


def add_remove(sites: SiteFiles, new: Route, repeat: int) -> tuple[float, float]:
    """Median ms of `add` and of `remove` of one more site, over `repeat` cycles (one warm-up)."""
    adds, removes = [], []
    for k in range(repeat + 1):
        t0 = time.perf_counter()
        sites.add(new)
        t1 = time.perf_counter()
        sites.remove(new.name)
        t2 = time.perf_counter()
        if k:
            adds.append((t1 - t0) * 1000)
            removes.append((t2 - t1) * 1000)
    return statistics.median(adds), statistics.median(removes)


def print_rows(n: int, figures: dict[str, dict[str, tuple[float, float]]]) -> None:
    for layout, rows in figures.items():
        print(f"nginx, {layout} layout: ms with none -> with {n} sites")
        for what, (none, with_n) in rows.items():
            if what.startswith("TLS handshake"):
                print(f"  {what:<34} {with_n:>8.2f} ms")
            else:
                print(f"  {what:<34} {none:>8.1f} -> {with_n:>8.1f}  ({with_n / none:.2f}x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    print_rows(args.n, measure(args.n, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
