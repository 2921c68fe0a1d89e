"""TLS with the routes (`tls = certbot-routes`) through a real nginx: a private instance (own
config, pid file and loopback ports) whose workers are not root, certbot's stand-in
answering its challenges through nginx's webroot as an ACME server would check them, and
curl checking each name's certificate. Loopback servers stand in for the sites' ports: no
container is needed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dockerlink.access.keycopies import KeyCopies
from dockerlink.access.sites import Route, SharedTLS, SiteFiles, shared_file, tls_names
from dockerlink.access.tls import Certificates
from tests.access.lineages import write_lineage
from tests.waiting import until

from .live import free_port
from .test_access import Nginx, _Upstream

DOMAIN = "tls.test"

pytestmark = pytest.mark.skipif(
    not (shutil.which("nginx") and shutil.which("curl")), reason="needs Debian's nginx and curl"
)


@pytest.fixture(scope="module")
def nginx():
    # Not under pytest's temporary directory (0700): the workers, not root, read the
    # webroot and the certificates' copies, as they read /etc/nginx.
    root = Path(tempfile.mkdtemp(prefix="dltest-nginx-tls-"))
    root.chmod(0o755)
    n = Nginx(root)
    n.tls_port = n.port
    while n.tls_port == n.port:  # both picked before nginx binds either
        n.tls_port = free_port()
    yield n
    subprocess.run(n.argv("-s", "quit"), timeout=30, check=False)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tls(nginx) -> SharedTLS:
    copies = KeyCopies(nginx.root / "dockerlink-certs", nginx.root / "letsencrypt")
    return SharedTLS(f"127.0.0.1:{nginx.tls_port}", copies, nginx.root / "dockerlink-acme")


@pytest.fixture(scope="module")
def sites(nginx, tls) -> SiteFiles:
    """The shared servers are written before nginx starts, so it binds both ports at once
    (a reload would bind the TLS port later, when another process may hold it)."""
    check, reload = tuple(nginx.argv("-t", "-q")), tuple(nginx.argv("-s", "reload"))
    files = SiteFiles(nginx.conf_d, check, reload, listen=f"127.0.0.1:{nginx.port}", tls=tls)
    tls.copies.prepare()
    tls.webroot.mkdir()
    files.routes.mkdir()
    files.shared.write_text(shared_file(DOMAIN, files.listen, files.routes, tls))
    subprocess.run(nginx.argv(), check=True, timeout=30)
    return files


def add(sites: SiteFiles, nginx, route: Route) -> None:  # noqa: ANN001
    """`sites.add`, then wait for the reload's old workers to be gone (they serve the old
    configuration until then)."""
    old = _workers(nginx)
    sites.add(route)
    until(lambda: not old & _workers(nginx), "the old nginx workers are gone after the reload", 30)


def _workers(nginx) -> set[str]:  # noqa: ANN001
    r = subprocess.run(["ps", "-o", "pid=", "--ppid", _master(nginx)], capture_output=True, text=True, timeout=30)
    return set(r.stdout.split())


@pytest.fixture(scope="module")
def certificates(nginx, tls, tmp_path_factory) -> Certificates:
    stand_in = (sys.executable, "-m", "tests.access.lineages", "--config-dir", str(tls.copies.certbot_dir))
    stand_in += ("--http", f"127.0.0.1:{nginx.port}", "certonly", "--webroot")
    return Certificates(stand_in, tmp_path_factory.mktemp("tls-state"), tls)


def https(nginx, host: str, ca: Path) -> subprocess.CompletedProcess[str]:
    """curl to `host` on nginx's TLS port, the certificate checked against `ca` and `host`."""
    argv = ["curl", "-sS", "--max-time", "10", "--cacert", str(ca)]
    argv += ["--resolve", f"{host}:{nginx.tls_port}:127.0.0.1", f"https://{host}:{nginx.tls_port}/"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def lineage_of(tls: SharedTLS, name: str) -> Path:
    return tls.copies.certbot_dir / "live" / f"dockerlink-{name}" / "fullchain.pem"


def test_a_sites_certificate_comes_through_the_webroot_and_both_names_answer_over_tls(
    nginx, tls, sites, certificates, unique_name
):
    site, terminal = _Upstream("site"), _Upstream("terminal")
    name = unique_name.replace("_", "-")
    host, terminal_host = f"{name}.{DOMAIN}", f"ssh.{name}.{DOMAIN}"
    add(sites, nginx, Route(name, DOMAIN, "127.0.0.1", site.port, terminal.port))
    try:
        certificates.request(name, (host, terminal_host)).join(60)
        assert certificates.status(name) == "ok"  # the stand-in got both challenges through nginx
        ca = lineage_of(tls, name)
        assert https(nginx, host, ca).stdout == "site"
        assert https(nginx, terminal_host, ca).stdout == "terminal"
        workers = subprocess.run(["ps", "-o", "user=", "--ppid", _master(nginx)], capture_output=True, text=True)
        assert workers.stdout.split() and "root" not in workers.stdout.split()  # they loaded the copy
        pem = tls.copies.path(name).read_text()
        assert "ENCRYPTED" in pem and "BEGIN PRIVATE KEY" not in pem
        assert oct(tls.copies.password_file.stat().st_mode & 0o777) == "0o600"
    finally:
        sites.remove(name)
        tls.copies.remove(name)
    failed = https(nginx, host, lineage_of(tls, name))
    assert failed.returncode != 0 and failed.stdout == ""  # deleted: no certificate for its name
    for server in (site, terminal):
        server.server.shutdown()


def test_a_renewed_lineage_is_served_after_its_copy_without_a_reload(nginx, tls, sites, unique_name):
    site = _Upstream("renewed")
    name = unique_name.replace("_", "-")
    host = f"{name}.{DOMAIN}"
    names = [host, f"ssh.{host}"]
    add(sites, nginx, Route(name, DOMAIN, "127.0.0.1", site.port, site.port))
    try:
        write_lineage(tls.copies.certbot_dir, f"dockerlink-{name}", names)
        tls.copies.install(name)
        old = nginx.root / "old-ca.pem"
        shutil.copy(lineage_of(tls, name), old)
        assert https(nginx, host, old).stdout == "renewed"
        pid = _master(nginx)
        write_lineage(tls.copies.certbot_dir, f"dockerlink-{name}", names, same_key=True)  # certbot renewed it
        assert tls.copies.refresh(tls_names(sites.routes)) == [name]
        assert https(nginx, host, lineage_of(tls, name)).stdout == "renewed"
        assert https(nginx, host, old).returncode != 0  # the old certificate is no longer served
        assert _master(nginx) == pid
    finally:
        sites.remove(name)
        tls.copies.remove(name)
    site.server.shutdown()


@pytest.mark.parametrize("sni", ["../../../etc/ssl/certs/x", f"nosite.{DOMAIN}"])
def test_a_name_without_a_tls_route_gets_no_certificate_and_opens_no_path_of_its_own(nginx, sites, tls, sni):
    """nginx 1.22 opens a certificate file named by the client's own server name unchecked
    (`../` included); the shared servers name it only through the TLS map."""
    error_log = nginx.root / "error.log"
    before = error_log.stat().st_size
    r = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{nginx.tls_port}", "-servername", sni],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "BEGIN CERTIFICATE" not in r.stdout
    until(lambda: error_log.stat().st_size > before, "nginx logs the failed handshake", 10)
    with open(error_log, encoding="utf-8", errors="replace") as f:
        f.seek(before)
        logged = f.read()
    assert f'cannot load certificate "{tls.copies.directory}/.pem"' in logged
    assert "../" not in logged


def _master(nginx) -> str:  # noqa: ANN001
    return (nginx.root / "nginx.pid").read_text().strip()
