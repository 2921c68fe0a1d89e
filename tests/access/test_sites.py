from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dockerlink.access.sites import HEADER, SiteFiles, server_file
from dockerlink.access.tls import Certificates
from dockerlink.errors import Conflicting, ProxyError


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
def sites(tmp_path, nginx) -> SiteFiles:
    return SiteFiles(tmp_path, ("nginx", "-t"), ("nginx", "-s", "reload"), run=nginx)


def text(name: str = "site1") -> str:
    return server_file(name, "example.org", "80", "127.0.0.1", 10080, 10000)


def test_server_file_proxies_both_names_with_terminal_timeouts():
    t = text()
    assert t.startswith(HEADER)
    assert "server_name site1.example.org;" in t and "proxy_pass http://127.0.0.1:10080;" in t
    assert "server_name ssh.site1.example.org;" in t and "proxy_pass http://127.0.0.1:10000;" in t
    assert "proxy_read_timeout 3600s;" in t and "proxy_buffering off;" in t


@pytest.mark.parametrize("name", ["_", "Site", "a" * 64, "a;b", "-a", "a\nb"])
def test_server_file_refuses_a_name_that_is_not_a_dns_label(name):
    with pytest.raises(ValueError):
        server_file(name, "example.org", "80", "127.0.0.1", 10080, 10000)


def test_add_writes_checks_then_reloads(sites, nginx, tmp_path):
    sites.add("site1", text())
    assert (tmp_path / "dockerlink-site1.conf").read_text() == text()
    assert nginx.calls == [["nginx", "-t"], ["nginx", "-s", "reload"]]
    assert [p.name for p in tmp_path.iterdir()] == ["dockerlink-site1.conf"]  # no temp file left


def test_a_failed_check_removes_the_file_and_names_nginx_complaint_without_reloading(sites, nginx, tmp_path):
    nginx.check_fails = True
    with pytest.raises(ProxyError, match='unknown directive "bogus"'):
        sites.add("site1", text())
    assert list(tmp_path.iterdir()) == []
    assert nginx.calls == [["nginx", "-t"]]


def test_a_file_dockerlink_did_not_write_is_never_overwritten_nor_removed(sites, nginx, tmp_path):
    theirs = tmp_path / "dockerlink-site1.conf"
    theirs.write_text("server { listen 80; }  # the operator's\n")
    with pytest.raises(Conflicting, match="not written by dockerlink"):
        sites.add("site1", text())
    assert sites.remove("site1") is False
    assert theirs.read_text() == "server { listen 80; }  # the operator's\n" and nginx.calls == []


def test_remove_deletes_our_file_and_reloads(sites, nginx, tmp_path):
    sites.add("site1", text())
    assert sites.remove("site1") is True
    assert list(tmp_path.iterdir()) == [] and nginx.calls[-1] == ["nginx", "-s", "reload"]


def test_a_missing_nginx_is_a_proxy_error(tmp_path):
    sites = SiteFiles(tmp_path, (str(tmp_path / "no-nginx"), "-t"), ("true",))
    with pytest.raises(ProxyError, match="could not run"):
        sites.add("site1", text())


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
