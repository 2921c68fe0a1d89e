"""Bench a create's nginx step with N sites vs none, in both layouts.

    .venv/bin/python bench/nginx_sites.py [N] [--repeat 5]

A scratch nginx (its own prefix, pid file and a free loopback port; never the system's)
runs while dockerlink's own `SiteFiles.add` writes one more site's files, runs `nginx -t`
and `nginx -s reload` on it (what a create with `site_domain` does), then `remove` takes
the site away again (what a delete does). Measured with no other site, then with N, in the
routes layout (the default: a route per site in shared servers) and in the own-servers
layout (`tls = certbot`: a server file per site, the layout every site had before). Also
prints `nginx -t` and `nginx -s reload` alone, by hand, on the same configurations: the
baseline that no client of nginx can go under. Everything it wrote is in a temporary
directory, removed at the end; the scratch nginx is stopped.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median_ms  # noqa: E402
from dockerlink.access.sites import Route, SiteFiles, server_file  # noqa: E402

DOMAIN = "bench.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScratchNginx:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf_d = root / "conf.d"
        self.conf_d.mkdir()
        self.listen = f"127.0.0.1:{_free_port()}"
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

    def run(self, *args: str) -> None:
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=120, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"nginx {' '.join(args)}: {r.stderr.strip()}")


def route(i: int) -> Route:
    return Route(f"site{i}", DOMAIN, "127.0.0.1", 20000 + i % 10000, 30000 + i % 10000)


def fill(sites: SiteFiles, n: int) -> None:
    """N sites' files written as `add` writes them, without N checks and reloads."""
    if sites.own_servers:
        for i in range(n):
            sites.path(f"site{i}").write_text(server_file(route(i), sites.listen))
        return
    sites.routes.mkdir(exist_ok=True)
    for i in range(n):
        sites.route_path(f"site{i}").write_text(route(i).map_file())


def measure(n: int, repeat: int) -> dict[str, dict[str, tuple[float, float]]]:
    """{layout: {what: (ms with none, ms with n)}} for `add` (write, check, reload), `remove`
    (remove, reload), and `nginx -t` / `nginx -s reload` by hand."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for layout, own in (("routes", False), ("own servers", True)):
        with tempfile.TemporaryDirectory(prefix="dltest-bench-nginx-") as tmp:
            ngx = ScratchNginx(Path(tmp))
            ngx.run()  # the master, for the reloads
            try:
                out[layout] = measure_layout(ngx, own, n, repeat)
            finally:
                subprocess.run(ngx.argv("-s", "quit"), capture_output=True, timeout=60, check=False)
    return out


def measure_layout(ngx: ScratchNginx, own_servers: bool, n: int, repeat: int) -> dict[str, tuple[float, float]]:
    sites = SiteFiles(ngx.conf_d, ngx.argv("-t"), ngx.argv("-s", "reload"), listen=ngx.listen, own_servers=own_servers)
    figures: dict[str, list[float]] = {}
    for count in (0, n):
        fill(sites, count)
        adds, removes = add_remove(sites, route(n + 1), repeat)
        figures.setdefault("add (write, nginx -t, reload)", []).append(adds)
        figures.setdefault("remove (unlink, reload)", []).append(removes)
        figures.setdefault("nginx -t by hand", []).append(median_ms(lambda: ngx.run("-t"), repeat))
        figures.setdefault("nginx -s reload by hand", []).append(median_ms(lambda: ngx.run("-s", "reload"), repeat))
    return {what: (a, b) for what, (a, b) in figures.items()}


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
