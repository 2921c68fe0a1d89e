"""The background process's engine factory: every job's engine speaks TLS to a TLS engine
(the disk meter and the restore recovery once spoke plain HTTP to it)."""

from __future__ import annotations

import json
import socket
import threading

from dockerlink.collector.process import Engines, build_jobs
from dockerlink.config import Config
from dockerlink.engine.tls import TLSConfig
from dockerlink.events.journal import Journal


def _tls_config(tmp_path, **extra) -> Config:  # noqa: ANN001, ANN003
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (certs / name).write_text("not read before a call\n")
    return Config(
        docker_sock="tcp://127.0.0.1:2376",
        docker_tls_verify=True,
        docker_cert_path=str(certs),
        stats_db=str(tmp_path / "stats.sqlite3"),
        backup_dir=str(tmp_path / "backups"),
        webhook_url="https://hooks.example.org/in",
        webhook_secret="0123456789abcdef0123",
        **extra,
    )


def test_with_a_tls_config_every_job_gets_an_engine_with_tls(tmp_path):
    config = _tls_config(tmp_path)
    engines = Engines(config)
    jobs = build_jobs(config, engines, Journal(config.events_path))
    try:
        with_engine = {job.name: job.engine for job in jobs if job.engine is not None}
        # The firewall keeper belongs on the engine's host: none for a tcp:// engine.
        assert sorted(with_engine) == ["disk", "events", "restore-recovery", "stats", "transfers"]
        expected = TLSConfig(str(tmp_path / "certs"), verify=True)
        for name, engine in with_engine.items():
            assert engine.transport.tls == expected, name
            assert engine.transport._base.startswith("https://"), name
        assert sorted(job.name for job in jobs if job.engine is None) == ["handoff", "webhooks"]
        assert all(e.transport.tls == expected for e in engines.made)
    finally:
        for job in jobs:
            if job.close is not None:
                job.close()
        engines.close()


class FirstBytes:
    """A loopback TCP listener that keeps the first byte each client sends: 0x16 opens a
    TLS handshake, `G` a plain-HTTP GET."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.seen: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                self.seen.append(conn.recv(1))

    def close(self) -> None:
        self.server.close()


def test_the_disk_meter_and_the_restore_recovery_speak_tls_to_a_tls_engine(tmp_path, caplog):
    listener = FirstBytes()
    certs = tmp_path / "certs"
    certs.mkdir()  # no ca.pem, no client certificate: TLS without verifying (the CLI's --tls)
    config = Config(
        docker_sock=f"tcp://127.0.0.1:{listener.port}",
        docker_cert_path=str(certs),
        stats_db=str(tmp_path / "stats.sqlite3"),
        backup_dir=str(tmp_path / "backups"),
    )
    restores = tmp_path / "backups" / ".restores"
    restores.mkdir(parents=True)
    (restores / "site1.json").write_text(
        json.dumps({"name": "site1", "backup": "20260101T000000Z", "container": "c" * 64})
    )
    engines = Engines(config)
    jobs = {job.name: job for job in build_jobs(config, engines, Journal(config.events_path))}
    try:
        for name in ("disk", "restore-recovery"):
            before = len(listener.seen)
            jobs[name].run(lambda seconds: True)  # one measure / one recovery, then stop
            assert listener.seen[before:], f"{name}: no call reached the engine"
            assert set(listener.seen[before:]) == {b"\x16"}, f"{name}: {listener.seen[before:]}"
    finally:
        jobs["stats"].close()
        engines.close()
        listener.close()
