"""Engine addresses: `unix:///path`, a bare socket path, or `tcp://host:port`."""

from __future__ import annotations

import pytest

from dockerlink.engine import Engine
from dockerlink.engine.address import DEFAULT_SOCKET, base_url, default_address, display_name, socket_path


@pytest.mark.parametrize("address", ["/var/run/docker.sock", "unix:///var/run/docker.sock"])
def test_unix_addresses_become_an_encoded_socket_url(address: str):
    assert base_url(address) == "http+unix://%2Fvar%2Frun%2Fdocker.sock"


def test_socket_path_with_unusual_characters_is_fully_encoded():
    assert base_url("/tmp/my dir/d@ck:er.sock") == "http+unix://%2Ftmp%2Fmy%20dir%2Fd%40ck%3Aer.sock"


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:2375", "http://127.0.0.1:2375", "tcp://127.0.0.1:2375/"])
def test_tcp_address_becomes_plain_http(address: str):
    assert base_url(address) == "http://127.0.0.1:2375"


@pytest.mark.parametrize(
    "address",
    [
        "docker.sock",  # relative socket path
        "unix://docker.sock",
        "tcp://127.0.0.1",  # no port
        "tcp://:2375",  # no host
        "tcp://127.0.0.1:2375/v1.41",  # a path would shift every request
        "ssh://user@host",
        "https://127.0.0.1:2376",
    ],
)
def test_malformed_or_unsupported_addresses_are_refused(address: str):
    with pytest.raises(ValueError):
        base_url(address)


def test_socket_path_is_none_for_tcp_and_the_path_for_unix():
    assert socket_path("unix:///run/docker.sock") == "/run/docker.sock"
    assert socket_path("/run/docker.sock") == "/run/docker.sock"
    assert socket_path("tcp://127.0.0.1:2375") is None


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("unix:///run/docker.sock", "/run/docker.sock"),
        ("/tmp/my dir/d@ck:er.sock", "/tmp/my dir/d@ck:er.sock"),
        ("tcp://127.0.0.1:2375", "127.0.0.1:2375"),
        ("tcp://[::1]:2375/", "[::1]:2375"),
    ],
)
def test_display_name_is_the_socket_path_or_host_and_port(address: str, name: str):
    assert display_name(address) == name


def test_default_address_prefers_docker_host(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert default_address() == "tcp://127.0.0.1:2375"
    assert Engine().address == "tcp://127.0.0.1:2375"


def test_default_address_is_the_standard_socket_without_docker_host(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert default_address() == DEFAULT_SOCKET == "/var/run/docker.sock"


def test_engine_over_tcp_builds_versioned_http_urls():
    with Engine("tcp://127.0.0.1:2375") as engine:
        assert engine.transport.url(["containers", "json"]) == "http://127.0.0.1:2375/v1.41/containers/json"
        assert engine.transport.url(["_ping"], versioned=False) == "http://127.0.0.1:2375/_ping"
