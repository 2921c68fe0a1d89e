"""Tenants of one host cannot reach or hurt each other (issue 23, items 3, 4 and 6), on the
real engine and base image, through a real dockerlink under gunicorn:

- a site's root keeps only the capabilities it needs and runs with no-new-privileges: no
  raw socket, no mknod, no setuid that raises `admin`; while SSH (password, key, tty), the
  web terminal's login, a root web server on port 80 and git still work;
- no `commands` entry can stop the keep-alive (SSH answers whatever the command does);
- taking access away ends the live SSH and terminal sessions, and a revoked scoped token
  ends its parked `/v1/events` wait.

Port areas: roots 1100 and 1600 with `port_area_size` 444, below every other module's
areas (5000 wide from 10000 up), so this module runs beside them.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import jwt
import pytest
import requests

from .live import live_service, wait_until
from .test_access import Terminal, ssh_argv
from .test_containers import wait_for_ssh_banner

TOKEN = "privileges-test-token-0123456789"
ROOT = 1100
SHAPES_ROOT = 1600
#: CHOWN DAC_OVERRIDE FOWNER KILL SETGID SETUID NET_BIND_SERVICE SYS_CHROOT AUDIT_WRITE:
#: bits 0 1 3 5 6 7 10 18 29 (linux/capability.h), written out.
KEPT_MASK = "00000000200404eb"

pytestmark = pytest.mark.skipif(
    not (shutil.which("sshpass") and shutil.which("ssh") and shutil.which("ssh-keygen")),
    reason="needs sshpass, ssh and ssh-keygen (scripts/bootstrap.sh test installs them)",
)


@pytest.fixture(scope="module")
def svc(engine, tmp_path_factory):
    with live_service(
        tmp_path_factory.mktemp("privileges"),
        api_token=TOKEN,
        publish_ip="127.0.0.1",
        port_area_size="444",
        stats_interval="60",
    ) as s:
        yield s


def _create(svc, name: str, root: int, commands: list[str]) -> dict:  # noqa: ANN001
    r = svc.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={"name": name, "host_port_root": root, "memory": 0.25, "cpulimit": 0.5, "commands": commands},
    )
    assert r.status_code == 200, r.text
    return {"name": name, "root": root, **r.json()}


@pytest.fixture(scope="module")
def site(svc, engine):
    """A started site whose commands (run as root) serve a page on port 80."""
    from .conftest import PREFIX

    s = _create(
        svc,
        f"{PREFIX}privs",
        ROOT,
        [
            "echo site-ok > /var/www/html/index.html",
            "shellinaboxd --disable-ssl --port=80 --static-file=/index.html:/var/www/html/index.html"
            " --service=/:nobody:nogroup:/:false -b",
        ],
    )
    assert wait_for_ssh_banner(ROOT + 22).startswith(b"SSH-")
    yield s
    svc.request("DELETE", "/v1/container", params={"id": s["name"], "volumes": "true"})


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("privs-key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "owner@test", "-f", str(path)], check=True)
    return path


def _ssh_argv(root: int, password: str | None, key: Path | None) -> tuple[list[str], dict | None]:
    return ssh_argv(root + 22, password, key)


def ssh(site: dict, command: str, *, password: str | None = None, key: Path | None = None, stdin: str = ""):  # noqa: ANN201
    argv, env = _ssh_argv(site["root"], password if key is None else None, key)
    return subprocess.run([*argv, command], input=stdin, capture_output=True, text=True, timeout=90, env=env)


def as_admin(site: dict, command: str) -> subprocess.CompletedProcess[str]:
    """`command` in the site as `admin`, logged in over SSH with the create's password."""
    r = ssh(site, command, password=site["password"])
    assert r.returncode != 255, r.stderr  # 255: ssh itself failed, not the command
    return r


def as_root(engine, site: dict, command: str):  # noqa: ANN001, ANN201
    return engine.execs.run(site["Id"], ["sh", "-c", command], timeout=60)


def processes(engine, site: dict) -> list[tuple[str, str]]:  # noqa: ANN001
    """(user, command line) of each process in the site."""
    out = engine.execs.run(site["Id"], ["ps", "-eo", "user:16=,args="], timeout=60).stdout.decode()
    rows = [line.split(None, 1) for line in out.splitlines()]
    return [(row[0], row[1].strip()) for row in rows if len(row) == 2]


# -- item 3: fewer privileges ---------------------------------------------------------------


def test_the_engine_holds_the_capability_allow_list_and_no_new_privileges(site, engine):
    host = engine.transport.request("GET", ["containers", site["Id"], "json"]).json()["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert "NET_RAW" not in host["CapAdd"] and "MKNOD" not in host["CapAdd"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]  # Docker's seccomp profile stays
    status = as_root(engine, site, "cat /proc/1/status").stdout.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapBnd"] == KEPT_MASK and fields["CapEff"] == KEPT_MASK
    assert fields["NoNewPrivs"] == "1"
    seccomp = fields["Seccomp"]
    assert seccomp == "2"  # filter mode: the engine's default profile


def test_su_does_not_make_admin_root(site):
    r = as_admin(site, "su -c 'id -u' root </dev/null; echo exit=$?")
    assert "exit=0" not in r.stdout and "\n0\n" not in "\n" + r.stdout


def test_a_setuid_root_program_does_not_raise_admin(site, engine):
    made = as_root(engine, site, "cp /usr/bin/id /usr/local/bin/id-suid && chmod 4755 /usr/local/bin/id-suid")
    assert made.exit_code == 0, made.output
    assert as_root(engine, site, "stat -c %a:%U /usr/local/bin/id-suid").stdout.decode().strip() == "4755:root"
    r = as_admin(site, "/usr/local/bin/id-suid -u; /usr/local/bin/id-suid -un")
    assert r.stdout.split() == ["1000", "admin"], r.stdout + r.stderr


def test_root_in_the_site_opens_no_raw_socket(site, engine):
    # perl (in Debian's base system) asks the kernel directly; a TCP socket shows perl works.
    probe = (
        'perl -e \'for (["tcp", 2, 1, 6], ["icmp", 2, 3, 1], ["packet", 17, 3, 768]) {'
        ' my ($n, @a) = @$_; print "$n=", (socket(my $s, $a[0], $a[1], $a[2]) ? "open" : "refused"), "\\n" }\''
    )
    r = as_root(engine, site, probe)
    assert r.stdout.decode().split() == ["tcp=open", "icmp=refused", "packet=refused"], r.output


def test_root_in_the_site_makes_no_device_node(site, engine):
    r = as_root(engine, site, "mknod /tmp/null2 c 1 3")
    assert r.exit_code != 0 and "Operation not permitted" in r.output


def test_ssh_by_password_and_by_key_with_a_tty(site, svc, key):
    r = as_admin(site, "id -un")
    assert r.returncode == 0 and r.stdout.strip() == "admin", r.stderr
    pub = key.with_suffix(".pub").read_text().strip()
    r = svc.request("POST", "/v1/container/access", params={"id": site["name"]}, json={"ssh_keys": [pub]})
    assert r.status_code == 204, r.text
    argv, _ = _ssh_argv(site["root"], None, key)
    r = subprocess.run([*argv[:1], "-tt", *argv[1:], "tty; id -un"], capture_output=True, text=True, timeout=90)
    assert r.returncode == 0 and "/dev/pts/" in r.stdout and "admin" in r.stdout, r.stderr


class _Direct:
    """The terminal's published port (127.0.0.1:<root>), spoken to as Terminal speaks to nginx."""

    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, host: str, path: str = "/", **kw) -> requests.Response:
        return requests.request(kw.pop("method", "GET"), f"http://127.0.0.1:{self.port}{path}", timeout=30, **kw)


def _terminal_login(site: dict) -> Terminal:
    term = Terminal(_Direct(site["root"]), "terminal", "/wetty")  # type: ignore[arg-type]
    assert term.read_until("login:").rstrip().endswith("login:")
    term.type("admin\r")
    assert "Password:" in term.read_until("Password:")
    term.type(site["password"] + "\r")
    term.read_until("$ ")
    return term


def test_the_web_terminal_logs_in(site):
    term = _terminal_login(site)
    term.type("id -un\r")
    assert "admin" in term.read_until("admin\r\n")


def test_a_root_web_server_answers_on_port_80(site):
    r = wait_until(lambda: _get(f"http://127.0.0.1:{site['root'] + 80}/index.html"), 30, "the page on port 80")
    assert r.text.strip() == "site-ok"


def _get(url: str) -> requests.Response | None:
    try:
        r = requests.get(url, timeout=5)
    except requests.RequestException:
        return None
    return r if r.status_code == 200 else None


def test_git_as_admin_over_ssh_and_http(site, key):
    """admin pushes to and clones from a bare repository over SSH to its own site (the ssh
    client in the site, key auth), and git's http helper reaches the port-80 server."""
    r = ssh(site, "mkdir -p -m 700 ~/.ssh && cat > ~/.ssh/id_git && chmod 600 ~/.ssh/id_git", key=key,
            stdin=key.read_text())  # fmt: skip
    assert r.returncode == 0, r.stderr
    script = (
        "set -e; cd /tmp; rm -rf repo.git work clone\n"
        "export GIT_SSH_COMMAND='ssh -i ~/.ssh/id_git -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
        "git init -q --bare repo.git; git init -q work; cd work\n"
        "git -c user.email=a@b -c user.name=admin commit -q --allow-empty -m first\n"
        "git push -q ssh://admin@127.0.0.1/tmp/repo.git HEAD:refs/heads/main 2>/dev/null\n"
        "git clone -q ssh://admin@127.0.0.1/tmp/repo.git ../clone 2>/dev/null\n"
        "git -C ../clone log --format=%s -1 origin/main\n"
        "git ls-remote http://127.0.0.1/none.git 2>&1 || true\n"
    )
    r = ssh(site, script, key=key)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "first"
    assert "not found" in r.stdout  # the http helper ran and got the server's 404


# -- item 4: no command stops the keep-alive ------------------------------------------------


@pytest.mark.parametrize(
    "command", ["exit 3", "exec sleep 1", "set -e; false", "eval 'if'", "sleep 1000 &", "sleep infinity", "kill $$"]
)
def test_whatever_a_command_does_the_site_runs_and_sshd_answers(svc, engine, unique_name, command):
    s = _create(svc, unique_name, SHAPES_ROOT, [command, "echo after > /var/www/after"])
    try:
        assert wait_for_ssh_banner(SHAPES_ROOT + 22, 60).startswith(b"SSH-")
        d = engine.containers.inspect(s["Id"])
        assert d.running and d.restart_count == 0
        if command == "sleep 1000 &":  # backgrounded as meant: the next command ran
            wait_until(lambda: as_root(engine, s, "cat /var/www/after").exit_code == 0, 30, "the next command")
            assert ("root", "sleep 1000") in processes(engine, s)
    finally:
        svc.request("DELETE", "/v1/container", params={"id": unique_name, "volumes": "true"})


def test_a_command_the_shell_cannot_parse_is_a_400_naming_it(svc, unique_name):
    r = svc.request(
        "PUT",
        "/v1/container",
        json={"name": unique_name, "host_port_root": SHAPES_ROOT, "memory": 0.25, "cpulimit": 0.5,
              "commands": ["echo ok", "sleep 1 & && echo no"]},
    )  # fmt: skip
    assert r.status_code == 400 and r.text.startswith("commands: commands[1] is not valid sh"), r.text


# -- item 6: taking access away takes it away now --------------------------------------------


def test_a_new_password_ends_the_live_ssh_and_terminal_sessions_and_leaves_the_site(site, svc, engine):
    argv, env = _ssh_argv(site["root"], site["password"], None)
    session = subprocess.Popen([*argv, "sleep 600"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: ("admin", "sleep 600") in processes(engine, site), 60, "the SSH session's command")
        term = _terminal_login(site)
        term.type("exec sleep 700\r")
        wait_until(lambda: ("admin", "sleep 700") in processes(engine, site), 60, "the terminal session's command")
        new = "a-new-password-after-a-leak"
        r = svc.request("POST", "/v1/container/access", params={"id": site["name"]}, json={"password": new})
        assert r.status_code == 204, r.text
        session.wait(timeout=30)  # a wide bound: the failure this catches is a session that stays
        left = processes(engine, site)
        assert [p for p in left if p[0] == "admin" or p[1].startswith(("login", "sshd: admin"))] == []
        # the site itself is untouched: sshd, the terminal's server and the root commands run on
        args = " ".join(p[1] for p in left)
        assert "[listener]" in args and "--port=4200" in args and "--port=80" in args
        assert engine.containers.inspect(site["Id"]).running
        site["password"] = new
        assert as_admin(site, "id -un").stdout.strip() == "admin"
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()


def test_a_revoked_scoped_token_ends_its_parked_events_wait(site, svc):
    r = svc.request("POST", "/v1/token", json={"id": site["name"], "scopes": ["events"], "ttl": 600})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    answers: list[requests.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            requests.get(
                f"{svc.url}/v1/events", params={"since": "999999999", "wait": "30"}, headers=headers, timeout=60
            )
        )
    )
    started = time.monotonic()
    waiter.start()
    # the token is good now (a second request answers), and the wait is still out
    assert requests.get(f"{svc.url}/v1/events", params={"since": "999999999"}, headers=headers, timeout=30).ok
    assert waiter.is_alive()
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert svc.request("DELETE", "/v1/token", params={"jti": jti}).status_code == 204
    waiter.join(timeout=28)
    assert not waiter.is_alive() and time.monotonic() - started < 28  # ended before its 30 s
    assert answers[0].status_code == 401 and "revoked" in answers[0].text
