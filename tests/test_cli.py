"""`dockerlink check`: the warnings an operator gets for settings the service starts without."""

from __future__ import annotations

import pytest

from dockerlink import cli
from dockerlink.config import Config
from tests.fakes import FakeEngine


@pytest.fixture
def check(monkeypatch, tmp_path, capsys):
    """Run `dockerlink check` with `env` as the whole environment, in an empty directory.
    Every engine the command makes comes from `Config.engine()` (replaced here by the
    fake engine, whose calls tests/test_fakes.py ties to the real engine's)."""
    monkeypatch.chdir(tmp_path)  # no .env
    made: list[FakeEngine] = []
    monkeypatch.setattr(Config, "engine", lambda self: made.append(FakeEngine()) or made[-1])

    def run(env: dict[str, str]) -> tuple[int, str, str]:
        monkeypatch.setattr("os.environ", dict(env))
        made.clear()
        code = cli.main(["check"])
        out, err = capsys.readouterr()
        return code, out, err

    run.made = made
    return run


def test_check_makes_the_site_network_on_the_engine_config_makes(check):
    code, out, err = check({"port_area_size": "500", "docker_sock": "/nonexistent/docker.sock"})
    assert code == 0 and "site network dockerlink-sites ready" in out
    assert [e.networks.by_name.get("dockerlink-sites") is not None for e in check.made] == [False, True]


def test_check_warns_while_port_area_size_is_unset_naming_the_insa_panels_500(check):
    code, out, err = check({})
    assert code == 0 and "engine 20.10.24-fake" in out
    assert "warning: port_area_size is unset" in err and "500" in err


def test_check_says_nothing_of_port_area_size_once_it_is_set(check, tmp_path):
    assert "port_area_size" not in check({"port_area_size": "500"})[2]
    (tmp_path / ".env").write_text("port_area_size=500\n")
    assert "port_area_size" not in check({})[2]  # set in .env counts too


def test_a_value_equal_to_the_default_counts_as_set():
    assert not any("port_area_size" in w for w in cli.warnings(Config(), {"port_area_size": "5000"}))


def test_check_warns_when_the_default_bind_cannot_listen_on_ipv6(monkeypatch):
    no_ipv6 = cli.listen_addresses
    monkeypatch.setattr(cli, "listen_addresses", lambda c: no_ipv6(c, ipv6_loopback=lambda: False))
    found = cli.warnings(Config(), {"port_area_size": "500"})
    assert found == ["no IPv6 loopback on this host: the default bind listens on 127.0.0.1:7200 only"]


def test_adopt_backups_on_a_host_without_restic_says_so_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("os.environ", {"backup_dir": str(tmp_path / "b"), "stats_db": str(tmp_path / "s.sqlite3")})
    monkeypatch.setattr(Config, "engine", lambda self: FakeEngine())
    code = cli.main(["adopt-backups", "--site", "site1"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == "dockerlink: target: restic is not set up on this host (restic_repository)\n"
