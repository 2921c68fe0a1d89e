"""Site access end to end: a real nginx (a private instance: own config, pid file and loopback
port, never the system's), the real base image's sshd and shellinabox, and dockerlink under
gunicorn with site_domain set."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from dockerlink.access.sites import Route, SiteFiles, server_file
from tests.waiting import until

from .live import free_port, live_service
from .test_containers import wait_for_ssh_banner

DOMAIN = "sites.test"
ROOT = 15000
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10"]

pytestmark = pytest.mark.skipif(
    not (shutil.which("nginx") and shutil.which("sshpass") and shutil.which("ssh")),
    reason="needs Debian's nginx, sshpass and ssh (scripts/bootstrap.sh test installs them)",
)


class Nginx:
    """A private nginx: `argv(...)` runs it with this instance's prefix, config and error log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.conf_d = root / "conf.d"
        self.conf_d.mkdir()
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / d).mkdir()
        self.conf = root / "nginx.conf"
        self.conf.write_text(
            f"""worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{ listen 127.0.0.1:{self.port} default_server; return 404; }}
    include {self.conf_d}/*.conf;
}}
"""
        )

    def argv(self, *args: str) -> list[str]:
        return ["nginx", "-p", str(self.root), "-e", str(self.root / "error.log"), "-c", str(self.conf), *args]

    def get(self, host: str, path: str = "/", **kw) -> requests.Response:
        return requests.request(
            kw.pop("method", "GET"), f"http://127.0.0.1:{self.port}{path}", headers={"Host": host}, timeout=30, **kw
        )


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    n = Nginx(tmp_path_factory.mktemp("nginx"))
    subprocess.run(n.argv(), check=True, timeout=30)
    yield n
    subprocess.run(n.argv("-s", "quit"), timeout=30, check=False)


@pytest.fixture(scope="module")
def access_service(engine, nginx, tmp_path_factory):
    with live_service(
        tmp_path_factory.mktemp("access-service"),
        publish_ip="127.0.0.1",
        stats_interval="60",
        site_domain=DOMAIN,
        nginx_dir=str(nginx.conf_d),
        nginx_listen=f"127.0.0.1:{nginx.port}",
        nginx_check=" ".join(nginx.argv("-t", "-q")),
        nginx_reload=" ".join(nginx.argv("-s", "reload")),
    ) as s:
        yield s


@pytest.fixture(scope="module")
def site(access_service, engine, nginx):
    """One started site with a small server on its port 80; its create answer."""
    from .conftest import PREFIX

    name = f"{PREFIX}access"
    r = access_service.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={
            "name": name,
            "host_port_root": ROOT,
            "memory": 0.25,
            "cpulimit": 0.5,
            "commands": [
                f"echo site-{name}-ok > /var/www/html/index.html",
                "shellinaboxd --disable-ssl --port=80 --static-file=/index.html:/var/www/html/index.html"
                " --service=/:nobody:nogroup:/:false -b",
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert wait_for_ssh_banner(ROOT + 22).startswith(b"SSH-")
    _wait_for(lambda: nginx.get(f"ssh.{name}.{DOMAIN}").status_code == 200)
    yield {"name": name, **r.json()}
    access_service.request("DELETE", "/v1/container", params={"id": name, "volumes": "true"})


def _wait_for(ok, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if ok():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)


def ssh_argv(port: int, password: str | None = None, key: Path | None = None) -> tuple[list[str], dict | None]:
    """`ssh admin@127.0.0.1` on `port`, by password (through SSHPASS, not argv) or key; and its env."""
    if key is not None:
        argv = ["ssh", *SSH_OPTS, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(key)]
        env = None
    else:
        argv = ["sshpass", "-e", "ssh", *SSH_OPTS, "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"]
        env = {**os.environ, "SSHPASS": password or ""}
    return [*argv, "-p", str(port), "admin@127.0.0.1"], env


def ssh(*args: str, password: str | None = None, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`ssh admin@127.0.0.1 id` on the site's port."""
    argv, env = ssh_argv(ROOT + 22, password, key)
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, env=env)


class Terminal:
    """The shellinabox protocol through nginx: a session, long polls for output, keystrokes."""

    def __init__(self, nginx: Nginx, host: str, path: str) -> None:
        self.nginx, self.host, self.path = nginx, host, path
        self.session = self._post({"width": 80, "height": 24, "rooturl": f"http://{host}{path}"})["session"]

    def _post(self, form: dict) -> dict:
        r = self.nginx.get(self.host, self.path + "?", method="POST", data=form)
        try:
            return r.json()
        except ValueError:
            return {}

    def read_until(self, text: str, polls: int = 15) -> str:
        out = ""
        for _ in range(polls):
            out += self._post({"session": self.session, "width": 80, "height": 24}).get("data", "")
            if text in out:
                break
        return out

    def type(self, keys: str) -> None:
        self._post({"session": self.session, "width": 80, "height": 24, "keys": keys.encode().hex().upper()})


def test_create_without_credentials_answers_a_random_password(site):
    assert len(site["password"]) >= 20


@pytest.mark.parametrize("path", ["/", "/wetty"])
def test_the_terminal_answers_its_page_through_nginx(site, nginx, path):
    r = nginx.get(f"ssh.{site['name']}.{DOMAIN}", path)
    assert r.status_code == 200 and "ShellInABox" in r.text


def test_the_site_port_80_answers_on_its_domain_and_a_wrong_host_gets_nginx_default(site, nginx):
    r = nginx.get(f"{site['name']}.{DOMAIN}", "/index.html")
    assert r.status_code == 200 and r.text.strip() == f"site-{site['name']}-ok"
    r = nginx.get(f"nobody.{DOMAIN}", "/index.html")
    assert r.status_code == 404 and "nginx" in r.text


def test_the_web_terminal_asks_for_a_login_and_takes_the_create_password(site, nginx):
    term = Terminal(nginx, f"ssh.{site['name']}.{DOMAIN}", "/wetty")
    assert term.read_until("login:").rstrip().endswith("login:")
    term.type("admin\r")
    assert "Password:" in term.read_until("Password:")
    term.type(site["password"] + "\r")
    term.read_until("$ ")
    term.type("id\r")
    assert "uid=1000(admin)" in term.read_until("uid=")


def test_the_owner_logs_in_over_ssh_with_the_password_and_with_a_key(site, access_service, tmp_path):
    r = ssh("id", password=site["password"])
    assert r.returncode == 0 and "uid=1000(admin)" in r.stdout, r.stderr
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "owner@test", "-f", str(key)], check=True)
    pub = (tmp_path / "id_ed25519.pub").read_text().strip()
    r = access_service.request("POST", "/v1/container/access", params={"id": site["name"]}, json={"ssh_keys": [pub]})
    assert r.status_code == 204, r.text
    r = ssh("id", key=key)
    assert r.returncode == 0 and "uid=1000(admin)" in r.stdout, r.stderr


def test_the_password_appears_nowhere_a_test_can_look(site, engine, access_service):
    password = site["password"]
    cid = site["Id"]
    inspect = engine.transport.request("GET", ["containers", cid, "json"]).content.decode()
    logs = engine.transport.request("GET", ["containers", cid, "logs"], params={"stdout": 1, "stderr": 1}).content
    ps = engine.execs.run(cid, ["ps", "-eo", "args"], timeout=30).stdout.decode()
    for where, text in (
        ("docker inspect", inspect),
        ("container logs", logs.decode(errors="replace")),
        ("ps", ps),
        ("service log", access_service.log.read_text()),
    ):
        assert password not in text, where
    assert "shellinaboxd" in ps and "sshd" in ps


def test_a_password_reset_through_access_makes_the_old_one_fail(site, access_service):
    new = "a-new-password-for-admin"
    r = access_service.request("POST", "/v1/container/access", params={"id": site["name"]}, json={"password": new})
    assert r.status_code == 204, r.text
    assert ssh("id", password=site["password"]).returncode != 0
    r = ssh("id", password=new)
    assert r.returncode == 0 and "uid=1000(admin)" in r.stdout, r.stderr


def test_a_non_ascii_password_logs_in_over_ssh_and_the_web_terminal(site, access_service, nginx):
    """The original panels' users are French: a password with accented letters (and one
    from another script) is set, then typed over SSH and into the terminal as UTF-8 bytes."""
    password = "été à la plage — naïve façade 密码"
    r = access_service.request("POST", "/v1/container/access", params={"id": site["name"]}, json={"password": password})
    assert r.status_code == 204, r.text
    r = ssh("id", password=password)
    assert r.returncode == 0 and "uid=1000(admin)" in r.stdout, r.stderr
    assert ssh("id", password="ete a la plage — naive facade 密码").returncode != 0  # the accents count
    term = Terminal(nginx, f"ssh.{site['name']}.{DOMAIN}", "/wetty")
    assert term.read_until("login:").rstrip().endswith("login:")
    term.type("admin\r")
    assert "Password:" in term.read_until("Password:")
    term.type(password + "\r")
    term.read_until("$ ")
    term.type("id\r")
    assert "uid=1000(admin)" in term.read_until("uid=")
    assert password not in access_service.log.read_text()


@pytest.mark.parametrize("password", [" " * 17, "tab\tinside-password", "é" * 129])
def test_a_password_outside_the_rules_is_a_400_and_the_old_one_still_works(site, access_service, password):
    known = "a-known-password-for-admin"
    r = access_service.request("POST", "/v1/container/access", params={"id": site["name"]}, json={"password": known})
    assert r.status_code == 204, r.text
    r = access_service.request("POST", "/v1/container/access", params={"id": site["name"]}, json={"password": password})
    assert r.status_code == 400 and r.text.startswith("password: "), r.text
    assert ssh("true", password=known).returncode == 0


def test_the_listing_shows_the_site_urls(site, access_service):
    entry = access_service.get("/v1/container", params={"id": site["name"]}).json()["success"][site["name"]]
    assert entry["urls"] == {
        "site": f"http://{site['name']}.{DOMAIN}/",
        "terminal": f"http://ssh.{site['name']}.{DOMAIN}/wetty",
    }


def test_delete_removes_the_site_file_and_nginx_forgets_the_names(access_service, nginx, unique_name):
    r = access_service.request(
        "PUT",
        "/v1/container",
        json={"name": unique_name, "host_port_root": ROOT + 5000, "memory": 0.25, "cpulimit": 0.5},
    )
    assert r.status_code == 200, r.text
    site_file = nginx.root / "dockerlink-routes" / f"{unique_name}.map"
    assert site_file.exists() and (nginx.conf_d / "dockerlink.conf").exists()
    assert (
        access_service.request("DELETE", "/v1/container", params={"id": unique_name, "volumes": "true"}).status_code
        == 204
    )
    assert not site_file.exists()
    # `nginx -s reload` only signals the master: old workers may answer a moment longer.
    deadline = time.monotonic() + 15
    while (status := nginx.get(f"{unique_name}.{DOMAIN}").status_code) != 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == 404


def test_a_config_nginx_refuses_undoes_the_create(access_service, nginx, engine, unique_name):
    """A stray site file that breaks nginx's config makes the check fail: 502 with nginx's
    complaint, and no container or volume left."""
    stray = nginx.conf_d / "zz-broken.conf"
    stray.write_text("this is not nginx;\n")
    try:
        r = access_service.request(
            "PUT",
            "/v1/container",
            json={"name": unique_name, "host_port_root": ROOT + 5000, "memory": 0.25, "cpulimit": 0.5},
        )
    finally:
        stray.unlink()
    assert r.status_code == 502 and "unknown directive" in r.text, r.text
    names = [c.name for c in engine.containers.list(all=True)]
    assert unique_name not in names
    volumes = json.loads(engine.transport.request("GET", ["volumes"]).content)["Volumes"] or []
    assert f"dockerlink-{unique_name}-www" not in [v["Name"] for v in volumes]
    assert not list((nginx.root / "dockerlink-routes").glob(f"{unique_name}.*"))


def test_the_terminal_comes_back_after_a_crash(site, engine, nginx):
    r = engine.execs.run(site["Id"], ["pkill", "-KILL", "-x", "shellinaboxd"], timeout=30)
    assert r.exit_code == 0, r.stderr
    host = f"ssh.{site['name']}.{DOMAIN}"
    _wait_for(lambda: nginx.get(host).status_code == 200)
    assert "ShellInABox" in nginx.get(host).text


def test_the_container_stops_when_sshd_dies_whatever_the_terminal_does(engine, base_image, unique_name):
    from dockerlink.engine import ContainerSpec

    from .conftest import TEST_LABEL

    cid, _ = engine.containers.create(ContainerSpec(image=base_image, labels={TEST_LABEL: "1"}), name=unique_name)
    engine.containers.start(cid)
    _wait_for(lambda: "shellinaboxd" in engine.execs.run(cid, ["ps", "-eo", "args"], timeout=30).stdout.decode())
    engine.execs.run(cid, ["kill", "1"], timeout=30)  # sshd is the main process
    end = time.monotonic() + 30
    while engine.containers.inspect(cid).running and time.monotonic() < end:
        time.sleep(0.2)
    assert not engine.containers.inspect(cid).running


class _Upstream:
    """A loopback HTTP server that answers every GET with its own `tag`."""

    def __init__(self, tag: str) -> None:
        body = tag.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_server_file_from_before_the_routes_gives_way_to_the_route(nginx, unique_name):
    """A site made before the routes layout has its own server file; made again, its route
    replaces the file and nginx sends both names to the new upstreams (no container needed:
    loopback servers stand in for the site's ports). Removed, its names are nginx's default's."""
    old, site, terminal = _Upstream("old"), _Upstream("site"), _Upstream("terminal")
    sites = SiteFiles(
        nginx.conf_d,
        tuple(nginx.argv("-t", "-q")),
        tuple(nginx.argv("-s", "reload")),
        listen=f"127.0.0.1:{nginx.port}",
    )
    host, terminal_host = f"{unique_name}.{DOMAIN}", f"ssh.{unique_name}.{DOMAIN}"
    legacy = server_file(Route(unique_name, DOMAIN, "127.0.0.1", old.port, old.port), f"127.0.0.1:{nginx.port}")
    sites.path(unique_name).write_text(legacy)
    subprocess.run(nginx.argv("-s", "reload"), check=True, timeout=30)
    try:
        until(lambda: nginx.get(terminal_host).text == "old", "the old server file answers", 30)
        sites.add(Route(unique_name, DOMAIN, "127.0.0.1", site.port, terminal.port))
        assert not sites.path(unique_name).exists()
        until(lambda: nginx.get(host).text == "site", "the route sends the site's name to its upstream", 30)
        until(
            lambda: nginx.get(terminal_host).text == "terminal",
            "the route sends the terminal's name to its upstream",
            30,
        )
    finally:
        sites.remove(unique_name)
        sites.path(unique_name).unlink(missing_ok=True)
    until(lambda: nginx.get(host).status_code == 404, "the removed site's name answers 404", 30)
    until(lambda: nginx.get(terminal_host).status_code == 404, "the removed terminal's name answers 404", 30)
    for server in (old, site, terminal):
        server.server.shutdown()
