from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from dockerlink.access.keycopies import KeyCopies
from dockerlink.access.sites import HEADER, Route, SharedTLS, SiteFiles, server_file, shared_file, tls_names
from dockerlink.access.tls import Certificates
from dockerlink.errors import Conflicting, ProxyError

from .lineages import write_lineage


class FakeNginx:
    """Records commands; `check_fails` makes `nginx -t` fail with nginx's own kind of message."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.check_fails = False

    def __call__(self, argv):  # noqa: ANN001
        self.calls.append(list(argv))
        if argv[-1] == "-t" and self.check_fails:
            return subprocess.CompletedProcess(argv, 1, "", 'nginx: [emerg] unknown directive "bogus"\n')
        return subprocess.CompletedProcess(argv, 0, "", "")


@pytest.fixture
def nginx() -> FakeNginx:
    return FakeNginx()


@pytest.fixture
def conf_d(tmp_path) -> Path:
    (tmp_path / "conf.d").mkdir()
    return tmp_path / "conf.d"


@pytest.fixture
def sites(conf_d, nginx) -> SiteFiles:
    return SiteFiles(conf_d, ("nginx", "-t"), ("nginx", "-s", "reload"), listen="127.0.0.1:8080", run=nginx)


def route(name: str = "site1") -> Route:
    return Route(name, "example.org", "127.0.0.1", 10080, 10000)


def files(tmp_path: Path) -> list[str]:
    """Every file under tmp_path, relative to it, hidden ones (a temporary file left) too."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())


ROUTE_FILES = ["dockerlink-routes/site1.map"]


def test_a_route_maps_both_names_to_their_ports():
    t = route().map_file()
    assert t.startswith(HEADER)
    assert t.splitlines()[1:] == ["site1.example.org 127.0.0.1:10080;", "ssh.site1.example.org 127.0.0.1:10000;"]


def test_the_shared_servers_take_the_domain_s_names_and_proxy_through_the_map(tmp_path):
    t = shared_file("sites.example.org", "127.0.0.1:8080", tmp_path / "r")
    assert t.startswith(HEADER)
    assert f"include {tmp_path}/r/*.map;" in t and t.count("listen 127.0.0.1:8080;") == 2
    assert 'server_name "~^[a-z0-9-]+\\.sites\\.example\\.org$";' in t
    assert 'server_name "~^ssh\\.[a-z0-9-]+\\.sites\\.example\\.org$";' in t
    assert t.count("proxy_pass http://$dockerlink_upstream;") == 2 and t.count('= "") { return 404; }') == 2
    site, terminal = t.split('server_name "~^ssh')
    assert "proxy_read_timeout 3600s;" in terminal and "proxy_buffering off;" in terminal
    assert "proxy_buffering" not in site


def test_a_server_file_proxies_both_names_with_terminal_timeouts():
    t = server_file(route(), "80")
    assert t.startswith(HEADER)
    assert "server_name site1.example.org;" in t and "proxy_pass http://127.0.0.1:10080;" in t
    assert "server_name ssh.site1.example.org;" in t and "proxy_pass http://127.0.0.1:10000;" in t
    assert "proxy_read_timeout 3600s;" in t and "proxy_buffering off;" in t


@pytest.mark.parametrize("name", ["_", "Site", "a" * 64, "a;b", "-a", "a\nb", "a b", "*"])
def test_a_route_refuses_a_name_that_is_not_a_dns_label(name):
    with pytest.raises(ValueError):
        Route(name, "example.org", "127.0.0.1", 10080, 10000)


def test_add_writes_the_shared_file_and_the_route_then_checks_then_reloads(sites, nginx, tmp_path):
    sites.add(route())
    assert files(tmp_path) == ["conf.d/dockerlink.conf", *ROUTE_FILES]  # no temporary file left
    shared = shared_file("example.org", "127.0.0.1:8080", tmp_path / "dockerlink-routes")
    assert (tmp_path / "conf.d/dockerlink.conf").read_text() == shared
    assert (tmp_path / "dockerlink-routes/site1.map").read_text() == route().map_file()
    assert nginx.calls == [["nginx", "-t"], ["nginx", "-s", "reload"]]
    assert sites.ours("site1")


def test_a_second_site_adds_its_route_and_leaves_the_shared_file_alone(sites, nginx, tmp_path):
    sites.add(route())
    before = (tmp_path / "conf.d/dockerlink.conf").stat().st_mtime_ns
    sites.add(route("site2"))
    assert (tmp_path / "conf.d/dockerlink.conf").stat().st_mtime_ns == before
    assert len(files(tmp_path)) == 3


def test_a_failed_check_removes_what_it_wrote_and_names_nginx_complaint_without_reloading(sites, nginx, tmp_path):
    nginx.check_fails = True
    with pytest.raises(ProxyError, match='unknown directive "bogus"'):
        sites.add(route())
    assert files(tmp_path) == []
    assert nginx.calls == [["nginx", "-t"]]


def test_a_failed_check_after_a_settings_change_puts_the_old_shared_file_back(sites, nginx, conf_d, tmp_path):
    sites.add(route())
    old = (conf_d / "dockerlink.conf").read_text()
    moved = dataclasses.replace(sites, listen="127.0.0.1:9090")
    nginx.check_fails = True
    with pytest.raises(ProxyError):
        moved.add(route("site2"))
    assert (conf_d / "dockerlink.conf").read_text() == old
    assert files(tmp_path) == ["conf.d/dockerlink.conf", *ROUTE_FILES]
    nginx.check_fails = False
    moved.add(route("site2"))
    assert "listen 127.0.0.1:9090;" in (conf_d / "dockerlink.conf").read_text()


@pytest.mark.parametrize(
    "theirs", ["conf.d/dockerlink-site1.conf", "dockerlink-routes/site1.map", "conf.d/dockerlink.conf"]
)
def test_a_file_dockerlink_did_not_write_is_never_overwritten_nor_removed(sites, nginx, tmp_path, theirs):
    path = tmp_path / theirs
    path.parent.mkdir(exist_ok=True)
    path.write_text("server { listen 80; }  # the operator's\n")
    with pytest.raises(Conflicting, match="not written by dockerlink"):
        sites.add(route())
    assert sites.remove("site1") is False
    assert path.read_text() == "server { listen 80; }  # the operator's\n" and nginx.calls == []
    assert files(tmp_path) == [theirs]


def test_remove_deletes_the_route_and_reloads(sites, nginx, tmp_path):
    sites.add(route())
    sites.add(route("site2"))
    assert sites.remove("site1") is True
    assert not sites.ours("site1") and sites.ours("site2")
    assert "dockerlink-routes/site1.map" not in files(tmp_path) and nginx.calls[-1] == ["nginx", "-s", "reload"]
    assert sites.remove("site1") is False


def test_a_site_server_file_from_before_the_routes_is_replaced_by_its_route(sites, nginx, conf_d, tmp_path):
    (conf_d / "dockerlink-site1.conf").write_text(server_file(route(), "80"))
    assert sites.ours("site1")
    sites.add(route())
    assert files(tmp_path) == ["conf.d/dockerlink.conf", *ROUTE_FILES]


def test_with_own_servers_a_site_gets_its_server_file_and_loses_its_route(sites, nginx, conf_d, tmp_path):
    sites.add(route())
    own = dataclasses.replace(sites, own_servers=True)
    own.add(route())
    assert (conf_d / "dockerlink-site1.conf").read_text() == server_file(route(), "127.0.0.1:8080")
    assert files(tmp_path) == ["conf.d/dockerlink-site1.conf", "conf.d/dockerlink.conf"]
    assert own.ours("site1") and own.remove("site1") is True
    assert files(tmp_path) == ["conf.d/dockerlink.conf"]


@pytest.mark.parametrize("own_servers", [False, True])
def test_a_directory_that_cannot_be_written_is_a_proxy_error_naming_it(tmp_path, nginx, own_servers):
    (tmp_path / "a-file").write_text("not a directory\n")
    conf_d = tmp_path / "a-file" / "conf.d"  # as a read-only /etc would: every write fails
    sites = SiteFiles(conf_d, ("nginx", "-t"), ("nginx", "-s", "reload"), own_servers=own_servers, run=nginx)
    with pytest.raises(ProxyError, match=r"^could not write the site's nginx files: .*a-file.*: Not a directory$"):
        sites.add(route())
    assert nginx.calls == [] and files(tmp_path) == ["a-file"]


def test_a_missing_nginx_is_a_proxy_error(conf_d):
    sites = SiteFiles(conf_d, (str(conf_d / "no-nginx"), "-t"), ("true",))
    with pytest.raises(ProxyError, match="could not run"):
        sites.add(route())
    assert list(conf_d.iterdir()) == []


def _stand_in(tmp_path: Path, body: str) -> str:
    exe = tmp_path / "certbot"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)
    return str(exe)


def test_certbot_runs_in_the_background_with_both_names_and_reports_ok(tmp_path):
    args = tmp_path / "args"
    exe = _stand_in(tmp_path, f'echo "$@" > {args}\n')
    certs = Certificates((exe, "--nginx"), tmp_path / "state")
    certs.request("site1", ("site1.example.org", "ssh.site1.example.org")).join(30)
    assert args.read_text().split() == ["--nginx", "-d", "site1.example.org", "-d", "ssh.site1.example.org"]
    assert certs.status("site1") == "ok"


def test_certbot_failing_reports_its_last_line_and_pending_while_it_runs(tmp_path):
    gate = tmp_path / "gate"
    exe = _stand_in(
        tmp_path, f"while [ ! -e {gate} ]; do sleep 0.05; done\necho 'Some challenges have failed.' >&2\nexit 1\n"
    )
    certs = Certificates((exe,), tmp_path / "state")
    thread = certs.request("site1", ("site1.example.org",))
    assert certs.status("site1") == "pending"
    gate.touch()
    thread.join(30)
    assert certs.status("site1") == "failed: Some challenges have failed."
    certs.forget("site1")
    assert certs.status("site1") is None


def test_a_missing_certbot_is_a_failure_not_a_crash(tmp_path):
    certs = Certificates((str(tmp_path / "nope"),), tmp_path / "state")
    certs.request("site1", ("site1.example.org",)).join(30)
    assert certs.status("site1").startswith("failed: certbot could not run")


# -- the routes with TLS (tls = certbot-routes) -------------------------------------------


def shared_tls(tmp_path: Path) -> SharedTLS:
    return SharedTLS("127.0.0.1:8443", KeyCopies(tmp_path / "dockerlink-certs", tmp_path / "le"), tmp_path / "acme")


def test_with_tls_both_shared_servers_listen_with_tls_and_load_the_certificate_the_tls_map_names(tmp_path):
    t = shared_file("sites.example.org", "127.0.0.1:8080", tmp_path / "r", shared_tls(tmp_path))
    assert 'map $ssl_server_name $dockerlink_tls {\n    hostnames;\n    default "";\n' in t
    assert f"include {tmp_path}/r/*.tls;" in t
    assert t.count("listen 127.0.0.1:8443 ssl;") == 2 and t.count("listen 127.0.0.1:8080;") == 2
    pem = f"{tmp_path}/dockerlink-certs/$dockerlink_tls.pem;"
    assert t.count(f"ssl_certificate {pem}") == 2 and t.count(f"ssl_certificate_key {pem}") == 2
    assert t.count(f"ssl_password_file {tmp_path}/dockerlink-certs/.password;") == 2
    assert t.count(f"location ^~ /.well-known/acme-challenge/ {{ root {tmp_path}/acme; }}") == 2
    # The client's own name never reaches a path: only the map's value does.
    assert t.count("$ssl_server_name") == 1
    assert "ssl" not in shared_file("sites.example.org", "127.0.0.1:8080", tmp_path / "r")


def test_a_tls_route_names_the_sites_certificate_for_both_its_names():
    t = route().tls_file()
    assert t.startswith(HEADER)
    assert t.splitlines()[1:] == ["site1.example.org site1;", "ssh.site1.example.org site1;"]


def test_with_tls_add_writes_the_passphrase_before_the_check_then_both_routes(conf_d, tmp_path):
    tls = shared_tls(tmp_path)
    at_check: list[bool] = []

    def run(argv):  # noqa: ANN001
        if argv[-1] == "-t":
            at_check.append(tls.copies.password_file.is_file())
        return subprocess.CompletedProcess(argv, 0, "", "")

    sites = SiteFiles(conf_d, ("nginx", "-t"), ("nginx", "-s", "reload"), listen="8080", tls=tls, run=run)
    sites.add(route())
    assert at_check == [True]
    assert files(tmp_path) == [
        "conf.d/dockerlink.conf",
        "dockerlink-certs/.password",
        "dockerlink-routes/site1.map",
        "dockerlink-routes/site1.tls",
    ]
    assert (tmp_path / "dockerlink-routes/site1.tls").read_text() == route().tls_file()
    assert (tmp_path / "acme").is_dir()
    assert tls_names(tmp_path / "dockerlink-routes") == ["site1"]
    assert sites.remove("site1")
    assert files(tmp_path) == ["conf.d/dockerlink.conf", "dockerlink-certs/.password"]


def test_a_tls_route_is_dropped_when_tls_is_turned_off_or_the_site_gets_its_own_server(conf_d, nginx, tmp_path):
    with_tls = SiteFiles(conf_d, ("nginx", "-t"), ("nginx", "-s", "reload"), tls=shared_tls(tmp_path), run=nginx)
    with_tls.add(route())
    plain = dataclasses.replace(with_tls, tls=None)
    plain.add(route())
    assert not (tmp_path / "dockerlink-routes/site1.tls").exists()
    assert "ssl" not in (conf_d / "dockerlink.conf").read_text()
    with_tls.add(route())
    dataclasses.replace(with_tls, tls=None, own_servers=True).add(route())
    assert not (tmp_path / "dockerlink-routes/site1.tls").exists()
    assert (conf_d / "dockerlink-site1.conf").exists()


def test_with_tls_certbot_gets_the_certificate_through_the_webroot_and_it_is_copied_for_nginx(tmp_path):
    args = tmp_path / "args"
    tls = shared_tls(tmp_path)
    write_lineage(tmp_path / "le", "dockerlink-site1", ["site1.example.org", "ssh.site1.example.org"])
    exe = _stand_in(tmp_path, f'echo "$@" > {args}\n')
    certs = Certificates((exe, "certonly"), tmp_path / "state", tls)
    certs.request("site1", ("site1.example.org", "ssh.site1.example.org")).join(30)
    assert args.read_text().split() == [
        "certonly",
        "--webroot-path",
        str(tmp_path / "acme"),
        "--cert-name",
        "dockerlink-site1",
        "-d",
        "site1.example.org",
        "-d",
        "ssh.site1.example.org",
    ]
    assert certs.status("site1") == "ok"
    assert tls.copies.path("site1").is_file()


def test_with_tls_a_certificate_certbot_did_not_leave_where_expected_is_a_failure(tmp_path):
    certs = Certificates((_stand_in(tmp_path, "exit 0\n"),), tmp_path / "state", shared_tls(tmp_path))
    certs.request("site1", ("site1.example.org",)).join(30)
    state = certs.status("site1")
    assert state.startswith("failed: certificate of site1 not copied for nginx: ")
    assert "dockerlink-site1" in state and "\n" not in state
