"""The engine behind TLS with client verification: socat terminates TLS on loopback in
front of dockerd's unix socket; certificates are made here with openssl. Every engine
path goes through it (plain calls, exec's stream, the stats fan-out, the service), and a
wrong CA or a missing client certificate fails with one clear line."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockerlink.engine import ContainerSpec, Engine, EngineError, EngineUnavailable, NotFound, TLSConfig, socket_path

from .live import free_port, live_service

LABELS = {"dockerlink": "test", "dockerlink.test": "1"}


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _key_and_csr(cwd: Path, name: str, cn: str) -> None:
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=cwd)  # fmt: skip


def _ca(cwd: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-keyout", f"{name}-key.pem", "-out", f"{name}.pem", "-subj", f"/CN=dltest {name}", cwd=cwd)  # fmt: skip


def _sign(cwd: Path, name: str, ca: str, extensions: str) -> None:
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem", "-CAcreateserial",
             "-days", "2", "-out", f"{name}-cert.pem", "-extfile", f"{name}.ext", cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """Client directories as DOCKER_CERT_PATH holds them: `good`, `wrong_ca` (another CA's
    ca.pem), `no_cert` (ca.pem only); and the server's files."""
    assert shutil.which("openssl"), "openssl is missing"
    d = tmp_path_factory.mktemp("pki")
    _ca(d, "ca")
    _ca(d, "other-ca")
    _key_and_csr(d, "server", "localhost")
    _sign(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _key_and_csr(d, "client", "dockerlink")
    _sign(d, "client", "ca", "extendedKeyUsage=clientAuth\n")
    dirs = {}
    for name, ca, with_cert in (("good", "ca", True), ("wrong_ca", "other-ca", True), ("no_cert", "ca", False)):
        out = d / name
        out.mkdir()
        shutil.copy(d / f"{ca}.pem", out / "ca.pem")
        if with_cert:
            shutil.copy(d / "client-cert.pem", out / "cert.pem")
            shutil.copy(d / "client-key.pem", out / "key.pem")
        dirs[name] = out
    dirs["server"] = d
    return dirs


@pytest.fixture(scope="module")
def tls_engine_address(pki, engine) -> str:
    """tcp://127.0.0.1:<port>: socat, verifying client certificates against ca.pem."""
    socat = shutil.which("socat")
    assert socat, "socat is missing: install Debian's socat (scripts/bootstrap.sh test does)"
    unix = socket_path(engine.address)
    assert unix, "the tests' engine must be a local socket for socat to front it"
    port = free_port()
    d = pki["server"]
    listen = (
        f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={d / 'server-cert.pem'},"
        f"key={d / 'server-key.pem'},cafile={d / 'ca.pem'},verify=1"
    )
    proc = subprocess.Popen([socat, listen, f"UNIX-CONNECT:{unix}"], stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "socat exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "socat did not listen"
            time.sleep(0.05)
    yield f"tcp://127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)


def test_create_start_exec_stats_delete_through_tls(tls_engine_address, pki, base_image, unique_name):
    with Engine(tls_engine_address, tls=TLSConfig(str(pki["good"]))) as engine:
        assert engine.transport.url(["version"]).startswith("https://127.0.0.1:")
        assert engine.system.version().version
        cid, _ = engine.containers.create(
            ContainerSpec(image=base_image, cmd=("sleep", "infinity"), labels=LABELS), name=unique_name
        )
        try:
            assert engine.containers.start(cid)
            result = engine.execs.run(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30)
            assert (result.exit_code, result.stdout.strip(), result.stderr.strip()) == (3, b"out", b"err")
            assert engine.containers.stats(cid).memory_used > 0
            # The fan-out opens its own sockets: TLS handshakes in its selector loop.
            stats, inspected = engine.containers.stats_many([cid, cid, cid], inspect=[cid])
            assert all(not isinstance(s, EngineError) and s.memory_used > 0 for s in stats), stats
            assert not isinstance(inspected[0], EngineError) and inspected[0].id == cid
        finally:
            engine.containers.remove(cid, force=True)
        with pytest.raises(NotFound):
            engine.containers.inspect(cid)


@pytest.mark.parametrize(
    ("client", "says"),
    [("wrong_ca", "not accepted with the CA"), ("no_cert", "requires a client certificate")],
)
def test_a_wrong_ca_or_a_missing_client_certificate_fails_with_one_clear_line(tls_engine_address, pki, client, says):
    with Engine(tls_engine_address, tls=TLSConfig(str(pki[client]))) as engine:
        with pytest.raises(EngineUnavailable) as caught:
            engine.system.version()
        message = str(caught.value)
        assert says in message and "\n" not in message and len(message) < 300, message
        [fanned] = engine.containers.stats_many(["dltest-nonexistent"])[0]
        assert isinstance(fanned, EngineUnavailable) and says in str(fanned), fanned


def test_dockerlink_check_names_the_tls_failure_in_one_line(tls_engine_address, pki, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("docker_sock", "DOCKER_HOST")},
        "docker_sock": tls_engine_address,
        "docker_tls_verify": "1",
        "docker_cert_path": str(pki["wrong_ca"]),
        "port_area_size": "5000",  # set, as an operator does: no warning line beside the error
    }
    r = subprocess.run([sys.executable, "-m", "dockerlink.cli", "check"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "not accepted with the CA" in r.stderr, r.stderr
    env["docker_cert_path"] = str(pki["good"])
    r = subprocess.run([sys.executable, "-m", "dockerlink.cli", "check"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0 and "engine" in r.stdout, r.stderr


def test_the_service_and_its_collector_reach_the_engine_through_tls(tls_engine_address, pki, tmp_path):
    settings = {"docker_sock": tls_engine_address, "docker_tls_verify": "1", "docker_cert_path": str(pki["good"])}
    with live_service(tmp_path, stats_interval="1", **settings) as service:
        assert service.get("/v1/health").json()["status"] == "ok"
        assert service.get("/v1/container").status_code == 200
        deadline = time.monotonic() + 30
        while service.get("/v1/health").json()["last_sample_age"] is None:  # a round over the fan-out
            assert time.monotonic() < deadline, service.log.read_text()[-2000:]
            time.sleep(0.5)
        # Every job of the collector speaks TLS: the disk meter measured (through the engine's
        # /system/df, the engine being "remote"), and no job died.
        usage = tmp_path / "stats.sqlite3.disk.json"
        while not usage.exists():
            assert time.monotonic() < deadline, service.log.read_text()[-2000:]
            time.sleep(0.5)
        jobs = service.get("/v1/health").json()["jobs"]
        assert {name: job["state"] for name, job in jobs.items()} == {
            "stats": "running",
            "events": "running",
            "handoff": "running",
            "disk": "running",
            "restore-recovery": "done",
            "transfers": "running",
        }
        assert "disk use not measured" not in service.log.read_text()
