"""The background process's engine factory: every job's engine speaks TLS to a TLS engine
(the disk meter and the restore recovery once spoke plain HTTP to it)."""

from __future__ import annotations

import json
import socket
import threading

import dockerlink.events.runner as events_runner
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


def test_the_backup_schedule_and_retention_jobs_run_only_when_set(tmp_path):
    config = _tls_config(tmp_path, backup_schedule="02:30")
    engines = Engines(config)
    try:
        jobs = {job.name: job for job in build_jobs(config, engines, Journal(config.events_path))}
        assert jobs["backup-schedule"].engine.transport.tls == TLSConfig(str(tmp_path / "certs"), verify=True)
        assert jobs["backup-retention"].engine is None  # the local catalog and its file only
        config = Config(stats_db=str(tmp_path / "s2.sqlite3"), backup_dir=str(tmp_path / "b2"), backup_keep_monthly=6)
        names = {job.name for job in build_jobs(config, engines, Journal(config.events_path))}
        assert "backup-retention" in names and "backup-schedule" not in names
    finally:
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


def test_on_the_engines_host_the_oom_counter_is_a_job_of_its_own_with_its_own_engine(tmp_path, monkeypatch):
    monkeypatch.setattr(events_runner, "readable_here", lambda address: True)  # cgroups readable, whatever the box
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"), backup_dir=str(tmp_path / "backups"))
    engines = Engines(config)
    jobs = {job.name: job for job in build_jobs(config, engines, Journal(config.events_path))}
    try:
        assert {"stats", "events", "oom", "handoff"} <= set(jobs)
        engines_used = [job.engine for job in jobs.values() if job.engine is not None]
        assert len({id(e) for e in engines_used}) == len(engines_used)  # each job its own connections
    finally:
        jobs["stats"].close()
        engines.close()
