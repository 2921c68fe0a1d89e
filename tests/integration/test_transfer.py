"""A site moved from host A (this machine's dockerd) to host B (a second dockerd in its own
network namespace, tests/integration/second_host.py), agent to agent over the veth pair:
its files, login, limits and port root arrive and it runs on B, nothing is left on A; and
each fault (B unreachable, B's disk full, a revoked or expired token, A's worker killed
mid-stream, B unable to start it) leaves it running on A and nothing on B.

Port areas: roots 46000-49000 (port_area_size 500) on both hosts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import jwt
import pytest

from dockerlink.engine import NotFound

from .conftest import PREFIX
from .live import live_service, wait_until
from .second_host import NETNS, NS_IP, SERVICE_PORT, missing_tools, second_host
from .test_access import SSH_OPTS

ROOT = 46000
AREA = "500"
B_TOKEN = "second-host-token-0123456789"
B_URL = f"http://{NS_IP}:{SERVICE_PORT}"
PASSWORD = "correct horse battery staple"
#: sha256 of every file's content and path under /var/www, in order.
TREE_HASH = "cd /var/www && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum"

pytestmark = pytest.mark.skipif(
    bool(missing_tools()) or not (shutil.which("sshpass") and shutil.which("ssh")) or os.geteuid() != 0,
    reason="needs root, iproute2, util-linux's nsenter, dockerd, sshpass and ssh (scripts/bootstrap.sh)",
)


@pytest.fixture(scope="module")
def b_backups(tmp_path_factory):
    """B's backup_dir on a small tmpfs: a site bigger than it finds B's disk full."""
    path = tmp_path_factory.mktemp("b-backups")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m,mode=0700", "tmpfs", str(path)], check=True)
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="module")
def host_b(tmp_path_factory, base_image, b_backups):
    with second_host(
        Path(f"/tmp/{PREFIX}b"),
        base_image,
        api_token=B_TOKEN,
        port_area_size=AREA,
        backup_dir=str(b_backups),
        stats_interval="60",
    ) as b:
        print(f"second host ready in {b.started_in:.1f} s")
        yield b


@pytest.fixture(scope="module")
def host_a(engine, tmp_path_factory):
    with live_service(
        tmp_path_factory.mktemp("host-a"), publish_ip="127.0.0.1", port_area_size=AREA, stats_interval="60"
    ) as a:
        yield a


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _site(a, engine, name: str, root: int, key: Path | None = None, files: str = "", **body) -> str:
    """A started site on A with some files; its id."""
    fields = {"name": name, "host_port_root": root, "memory": 0.25, "cpulimit": 0.5, "password": PASSWORD}
    if key is not None:
        fields["ssh_keys"] = [key.with_suffix(".pub").read_text().strip()]
    r = a.request("PUT", "/v1/container", params={"start": "true"}, json={**fields, **body})
    assert r.status_code == 200, r.text
    cid = r.json()["Id"]
    script = (
        "mkdir -p /var/www/html/sub && echo hello > /var/www/html/index.html"
        " && head -c 300000 /dev/urandom > /var/www/html/sub/blob.bin && ln -s html/index.html /var/www/link"
    )
    result = engine.execs.run(cid, ["sh", "-c", script + (f" && {files}" if files else "")], timeout=120)
    assert result.exit_code == 0, result.stderr
    return cid


def _tree(engine, cid: str) -> str:
    result = engine.execs.run(cid, ["sh", "-c", TREE_HASH], timeout=120)
    assert result.exit_code == 0, result.stderr
    return result.stdout.decode().split()[0]


def _token(b, name: str, ttl: int = 600) -> dict:
    r = b.service.request("POST", "/v1/transfer/token", json={"name": name, "ttl": ttl})
    assert r.status_code == 201, r.text
    return r.json()


def _transfer(a, name: str, to: str, token: str) -> dict:
    r = a.request("POST", "/v1/container/transfer", params={"id": name}, json={"to": to, "token": token})
    assert r.status_code == 202, r.text
    return r.json()


def _ended(a, name: str) -> dict:
    def ended():
        r = a.get("/v1/container/transfer", params={"id": name})
        assert r.status_code == 200, r.text
        return r.json() if r.json()["state"] in ("done", "failed") else None

    return wait_until(ended, 180, f"the transfer of {name} to end")


def _events(service, type_: str) -> list[dict]:
    r = service.get("/v1/events", params={"type": type_, "limit": "1000"})
    assert r.status_code == 200, r.text
    return r.json()["events"]


def _nothing_on_b(b, name: str) -> None:
    with pytest.raises(NotFound):
        b.engine.containers.inspect(name)
    assert not [v for v in b.engine.transport.request("GET", ["volumes"]).json()["Volumes"] or [] if name in v["Name"]]


def _running_on_a(engine, cid: str) -> None:
    assert engine.containers.inspect(cid).running


def _ssh_b(root: int, *args: str, password: str | None = None, key: Path | None = None):
    if key is not None:
        argv = ["ssh", *SSH_OPTS, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(key)]
        env = None
    else:
        argv = ["sshpass", "-e", "ssh", *SSH_OPTS, "-o", "PubkeyAuthentication=no"]
        env = {**os.environ, "SSHPASS": password or ""}
    return subprocess.run(
        [*argv, "-p", str(root + 22), f"admin@{NS_IP}", *args], capture_output=True, text=True, timeout=60, env=env
    )


def _listening(port: int) -> bool:
    try:
        socket.create_connection((NS_IP, port), timeout=2).close()
        return True
    except OSError:
        return False


def _ssh_banner(root: int) -> bool:
    try:
        with socket.create_connection((NS_IP, root + 22), timeout=2) as s:
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def test_a_site_moves_with_its_files_login_and_port_root(host_a, host_b, engine, key):
    name = f"{PREFIX}move"
    # The files dated well before the copy (made a moment ago, they would count as changed
    # during it: the final pass resends a file whose mtime is within SLACK of its start).
    aged = "find /var/www -exec touch -h -d '2020-01-01 00:00:00' {} +"
    cid = _site(host_a, engine, name, ROOT, key, files=aged, commands=["echo started > /tmp/started"])
    before = _tree(engine, cid)
    grant = _token(host_b, name)
    started = _transfer(host_a, name, B_URL, grant["token"])
    assert "token" not in started

    status = _ended(host_a, name)
    assert status["state"] == "done", (status, host_b.service.log.read_text()[-3000:])
    assert status["receiver"]["host_port_root"] == ROOT and status["receiver"]["state"] == "running"
    assert status["downtime"] is not None and status["downtime"] >= 0
    # Read from the volume's directory on A (a local engine); the final pass holds none of
    # the files the first pass sent, all unchanged since.
    assert status["read"] == "files"
    first, final = status["passes"]
    assert final["plain"] < first["plain"] // 2, status["passes"]

    # On B: running, the same tree, limits and commands, and the owner logs in with the same password and key.
    on_b = host_b.engine.containers.inspect(name)
    assert on_b.running and on_b.memory == 256 * 2**20 and on_b.cpu_quota == 50_000
    assert _tree(host_b.engine, on_b.id) == before
    assert host_b.engine.execs.run(on_b.id, ["cat", "/tmp/started"]).stdout == b"started\n"
    wait_until(lambda: _ssh_banner(ROOT), 30, "sshd on B")
    by_password = _ssh_b(ROOT, "id", "-un", password=PASSWORD)
    assert by_password.returncode == 0 and by_password.stdout.strip() == "admin", by_password.stderr
    by_key = _ssh_b(ROOT, "stat", "-c", "%U", "/var/www/html/index.html", key=key)
    assert by_key.returncode == 0 and by_key.stdout.strip() == "admin", by_key.stderr

    # Nothing left on A: no container, no volume; both journals say so.
    with pytest.raises(NotFound):
        engine.containers.inspect(cid)
    with pytest.raises(NotFound):
        engine.volumes.inspect(f"dockerlink-{name}-www")
    wait_until(lambda: [e["id"] for e in _events(host_a, "transfer_done")] == [cid], 30, "transfer_done on A")
    wait_until(lambda: [e["id"] for e in _events(host_b.service, "transfer_done")] == [on_b.id], 30, "on B")
    # B's listing is the panel's view of it, with the port root it got.
    listed = host_b.service.get("/v1/container", params={"id": name}).json()["success"][name]
    assert listed["host_port_root"] == ROOT and listed["state"] == "running"


def test_b_unreachable_leaves_the_site_running_on_a(host_a, host_b, engine):
    name = f"{PREFIX}unreach"
    cid = _site(host_a, engine, name, ROOT + 500)
    grant = _token(host_b, name)
    _transfer(host_a, name, f"http://{NS_IP}:9", grant["token"])  # nothing listens there
    status = _ended(host_a, name)
    assert status["state"] == "failed" and "did not answer" in status["error"], status
    _running_on_a(engine, cid)
    _nothing_on_b(host_b, name)
    wait_until(lambda: cid in [e["id"] for e in _events(host_a, "transfer_failed")], 30, "transfer_failed on A")


def test_b_disk_full_mid_stream_leaves_the_site_running_on_a_and_nothing_on_b(host_a, host_b, engine):
    name = f"{PREFIX}full"
    # 120 MB of random data: more than B's 96 MB backup_dir can take.
    cid = _site(host_a, engine, name, ROOT + 1000, files="head -c 120000000 /dev/urandom > /var/www/big.bin")
    before = _tree(engine, cid)
    _transfer(host_a, name, B_URL, _token(host_b, name)["token"])
    status = _ended(host_a, name)
    assert status["state"] == "failed", status
    _running_on_a(engine, cid)
    assert _tree(engine, cid) == before
    _nothing_on_b(host_b, name)
    assert not list((Path(host_b.service.env["backup_dir"]) / ".transfers").glob("*.zst"))
    wait_until(lambda: name in [e["name"] for e in _events(host_b.service, "transfer_failed")], 30, "on B")


def test_a_revoked_token_is_refused_and_the_site_stays_on_a(host_a, host_b, engine):
    name = f"{PREFIX}revoked"
    cid = _site(host_a, engine, name, ROOT + 1500)
    grant = _token(host_b, name)
    jti = jwt.decode(grant["token"], options={"verify_signature": False})["jti"]
    assert host_b.service.request("DELETE", "/v1/token", params={"jti": jti}).status_code == 204
    _transfer(host_a, name, B_URL, grant["token"])
    status = _ended(host_a, name)
    assert status["state"] == "failed" and "401" in status["error"], status
    _running_on_a(engine, cid)
    _nothing_on_b(host_b, name)


def test_an_expired_token_is_refused_and_the_site_stays_on_a(host_a, host_b, engine):
    name = f"{PREFIX}expired"
    cid = _site(host_a, engine, name, ROOT + 2000)
    grant = _token(host_b, name, ttl=1)
    wait_until(lambda: time.time() > grant["expires"] + 0.5, 10, "the token's expiry")
    _transfer(host_a, name, B_URL, grant["token"])
    status = _ended(host_a, name)
    assert status["state"] == "failed" and "token expired" in status["error"], status
    _running_on_a(engine, cid)
    _nothing_on_b(host_b, name)


def test_b_unable_to_start_it_starts_it_again_on_a(host_a, host_b, engine):
    """B's copy of the site's ssh port is taken there: the site was stopped on A for the
    final pass, B cannot start it, so A starts it again and B removes what it made."""
    name = f"{PREFIX}nostart"
    root = ROOT + 2500
    cid = _site(host_a, engine, name, root)
    blocker = subprocess.Popen(
        [
            "nsenter",
            f"--net=/run/netns/{NETNS}",
            "python3",
            "-c",
            f"import socket,time; s=socket.socket(); s.bind(('{NS_IP}', {root + 80})); s.listen(); time.sleep(600)",
        ],
    )
    try:
        wait_until(lambda: _listening(root + 80), 30, "the port taken on B")
        _transfer(host_a, name, B_URL, _token(host_b, name)["token"])
        status = _ended(host_a, name)
    finally:
        blocker.kill()
        blocker.wait()
    assert status["state"] == "failed" and "in use" in status["error"], status
    assert status["stopped_at"]  # it was stopped for the final pass
    _running_on_a(engine, cid)
    _nothing_on_b(host_b, name)


def _workers(master: int) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master and b"dockerlink.collector" not in cmd:
                out.append(int(pid))
    return out


def test_a_worker_killed_mid_stream_is_rolled_back_by_the_keeper(host_a, host_b, engine):
    name = f"{PREFIX}killed"
    cid = _site(host_a, engine, name, ROOT + 3000, files="head -c 60000000 /dev/urandom > /var/www/big.bin")
    _transfer(host_a, name, B_URL, _token(host_b, name)["token"])

    def copying():
        r = host_a.get("/v1/container/transfer", params={"id": name}).json()
        return r["phase"] in ("copying", "stopping", "final")

    wait_until(copying, 60, "the copy to begin")
    for pid in _workers(host_a.process.pid):
        os.kill(pid, signal.SIGKILL)
    status = _ended(host_a, name)
    assert status["state"] == "failed" and "stopped mid-way" in status["error"], status
    wait_until(lambda: engine.containers.inspect(cid).running, 30, "the site running on A again")
    _nothing_on_b(host_b, name)
