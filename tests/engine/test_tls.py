"""TLS settings and the one line a TLS failure becomes (the handshakes themselves run
against socat in tests/integration/test_tls_engine.py)."""

from __future__ import annotations

import ssl

import pytest

from dockerlink.config import Config, ConfigError
from dockerlink.engine import Engine, TLSConfig
from dockerlink.engine.tls import describe_tls_error


def _cert_dir(tmp_path, *names: str):
    for name in names:
        (tmp_path / name).write_text("not used before a connection")
    return tmp_path


def test_tls_is_off_by_default_and_for_a_unix_socket(tmp_path):
    assert Config().tls is None
    d = _cert_dir(tmp_path, "ca.pem")
    assert Config.from_mapping({"docker_tls_verify": "1", "docker_cert_path": str(d)}).tls is None


def test_docker_cli_variables_turn_it_on_for_a_tcp_engine(tmp_path):
    d = _cert_dir(tmp_path, "ca.pem", "cert.pem", "key.pem")
    config = Config.from_mapping(
        {"DOCKER_HOST": "tcp://10.0.0.2:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(d)}
    )
    assert config.tls == TLSConfig(str(d), verify=True)
    assert config.tls.client_cert == (str(d / "cert.pem"), str(d / "key.pem"))
    engine = Engine(config.docker_sock, tls=config.tls)
    assert engine.transport.url(["version"]) == "https://10.0.0.2:2376/v1.41/version"


def test_cert_path_alone_encrypts_without_verifying(tmp_path):
    config = Config.from_mapping({"docker_sock": "tcp://10.0.0.2:2376", "docker_cert_path": str(tmp_path)})
    assert config.tls == TLSConfig(str(tmp_path), verify=False)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"docker_tls_verify": "maybe"}, "docker_tls_verify: expected true or false"),
        ({"docker_tls_verify": "1"}, "docker_cert_path: required with docker_tls_verify"),
        ({"docker_tls_verify": "1", "docker_cert_path": "certs"}, "docker_cert_path: must be an absolute path"),
        ({"docker_tls_verify": "1", "docker_cert_path": "/nonexistent/certs"}, "docker_cert_path: not a directory"),
    ],
)
def test_malformed_tls_settings_are_one_line_naming_the_field(settings, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_mapping({"docker_sock": "tcp://10.0.0.2:2376", **settings})


def test_a_cert_dir_without_ca_or_with_half_a_key_pair_is_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="ca.pem is missing"):
        Config.from_mapping(
            {"docker_sock": "tcp://h:2376", "docker_tls_verify": "1", "docker_cert_path": str(tmp_path)}
        )
    _cert_dir(tmp_path, "ca.pem", "cert.pem")
    with pytest.raises(ConfigError, match="cert.pem and key.pem go together"):
        Config.from_mapping(
            {"docker_sock": "tcp://h:2376", "docker_tls_verify": "1", "docker_cert_path": str(tmp_path)}
        )


def test_tls_failures_become_one_line_saying_what_to_fix(tmp_path):
    with_cert = TLSConfig(str(_cert_dir(tmp_path, "ca.pem", "cert.pem", "key.pem")))
    verify = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert "not accepted with the CA in" in describe_tls_error("h:2376", with_cert, verify)
    required = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")
    assert "cert.pem was refused" in describe_tls_error("h:2376", with_cert, required)
    no_cert = TLSConfig(str(tmp_path / "none"))
    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert "none was sent" in describe_tls_error("h:2376", no_cert, eof)
    assert describe_tls_error("h:2376", with_cert, ConnectionRefusedError(111, "Connection refused")) is None
