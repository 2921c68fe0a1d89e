"""The transfer token (its own scope, for one site's receiving side only), the checks on
what the sending host sends, and the port root the receiving host chooses."""

from __future__ import annotations

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.errors import InvalidInput
from dockerlink.hosting.commands import commands_of, start_script
from dockerlink.tokens import InvalidToken, ScopedTokens, SQLiteRevocations
from dockerlink.transfer.peer import check_url
from dockerlink.transfer.receiver import Receiver, free_root
from dockerlink.transfer.site import parse_spec
from tests.fakes import FakeEngine, FakeStore

TOKEN = "panel-token-0123456789abcdef"
PANEL = {"Authorization": f"Bearer {TOKEN}"}
HASH = "$6$saltsalt$" + "a" * 86
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnZ6wdNhjmA0J7tDTOkcXtXyrBo4F+7YZr3MaX6J2KR me@host"


def _host(tmp_path):
    config = Config(
        stats_db=f"{tmp_path}/stats.sqlite3",
        create_lock=f"{tmp_path}/create.lock",
        backup_dir=f"{tmp_path}/backups",
        api_token=TOKEN,
        port_area_size=500,
    )
    engine = FakeEngine()
    engine.containers.add("site1", labels={"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"})
    return config, TestClient(create_app(config, engine=engine, store=FakeStore()))


def test_the_panel_mints_a_transfer_token_that_opens_the_receiving_side_only(tmp_path):
    _, client = _host(tmp_path)
    r = client.simulate_post("/v1/transfer/token", json={"name": "newsite", "ttl": 120}, headers=PANEL)
    assert r.status_code == 201, r.text
    token = {"Authorization": f"Bearer {r.json['token']}"}
    assert len(r.json["transfer"]) == 64
    # Not the listing, not a site's endpoints, not minting more.
    assert client.simulate_get("/v1/container", headers=token).status_code == 403
    assert client.simulate_post("/v1/container/stop", params={"id": "site1"}, headers=token).status_code == 403
    assert client.simulate_post("/v1/transfer/token", json={"name": "x1"}, headers=token).status_code == 403
    assert client.simulate_get("/v1/container/transfer", params={"id": "site1"}, headers=token).status_code == 403
    # Its own steps: reached (the spec is then checked: here, another name is refused).
    r = client.simulate_put("/v1/transfer/receive", json={"name": "othersite"}, headers=token)
    assert r.status_code == 400 and r.text.startswith("name:")
    # With an id of the caller's choosing: refused.
    r = client.simulate_delete("/v1/transfer/receive", params={"id": "site1"}, headers=token)
    assert r.status_code == 403


def test_the_receiving_side_refuses_the_panel_token_and_a_sites_scoped_token(tmp_path):
    _, client = _host(tmp_path)
    assert client.simulate_put("/v1/transfer/receive", json={}, headers=PANEL).status_code == 403
    r = client.simulate_post("/v1/token", json={"id": "site1", "scopes": ["transfer"]}, headers=PANEL)
    assert r.status_code == 400  # the transfer scope is never minted by /v1/token


def test_a_name_in_use_here_gets_no_transfer_token(tmp_path):
    _, client = _host(tmp_path)
    r = client.simulate_post("/v1/transfer/token", json={"name": "site1"}, headers=PANEL)
    assert r.status_code == 409


def test_a_transfer_token_needs_its_site_and_holds_no_other_scope(tmp_path):
    tokens = ScopedTokens(TOKEN, SQLiteRevocations(str(tmp_path / "r.sqlite3")))
    _, token, _ = tokens.mint_transfer("site9", 60)
    assert tokens.verify(token).site == "site9"
    mixed, _ = tokens.mint("a" * 64, ("transfer", "power"), 60, site="site9")
    with pytest.raises(InvalidToken):
        tokens.verify(mixed)
    siteless, _ = tokens.mint("a" * 64, ("transfer",), 60)
    with pytest.raises(InvalidToken):
        tokens.verify(siteless)
    smuggled, _ = tokens.mint("a" * 64, ("power",), 60, site="site9")
    with pytest.raises(InvalidToken):
        tokens.verify(smuggled)


def _spec(**over):
    body = {
        "name": "site9",
        "host_port_root": 10000,
        "memory": 2**28,
        "cpu_quota": 50000,
        "ports": ["22/tcp", "80/tcp", "443/tcp", "3306/udp"],
        "image": "dockerlink/base:latest",
        "commands": ["echo hi"],
        "disk": None,
        "password_hash": HASH,
        "ssh_keys": [KEY],
    }
    return {**body, **over}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "site8"),
        ("password_hash", "plain-password"),
        ("password_hash", "$6$salt$short"),
        ("password_hash", HASH + "\nroot::0:0"),
        ("ssh_keys", ['command="sh" ' + KEY]),
        ("commands", ["echo 'unterminated"]),
        ("host_port_root", 80),
        ("memory", -1),
        ("ports", ["70000/tcp"]),
        ("image", "UPPER/Case"),
    ],
)
def test_a_spec_is_checked_field_by_field(field, value):
    config = Config(port_area_size=5000)
    assert parse_spec(_spec(), config, "site9").password_hash == HASH
    with pytest.raises(InvalidInput) as exc:
        parse_spec(_spec(**{field: value}), config, "site9")
    assert exc.value.field == field


@pytest.mark.parametrize("removed", [["/etc/passwd"], ["www/../etc"], ["www"], ["etc/x"], "www/a", ["www/a\0b"], [3]])
def test_deletions_outside_the_tree_are_refused(removed):
    with pytest.raises(InvalidInput):
        Receiver._removed(removed)


def test_deletions_inside_the_tree_are_kept_normalised():
    assert Receiver._removed(["www/a/b.txt", "./www/c"]) == ["www/a/b.txt", "www/c"]


def test_the_port_root_is_kept_when_free_else_the_lowest_free_area():
    assert free_root([20000], 10000, 5000) == 10000
    assert free_root([10000, 5000], 10000, 5000) == 15000
    assert free_root([10000], 12000, 5000) == 5000
    assert free_root(list(range(5000, 61000, 5000)), 10000, 5000) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://h", "http://user:pw@h", "http://h/path", "http://h?x=1", "http://h:99999", "h:7200", "", "http://"],
)
def test_the_receiving_url_is_a_base_url(url):
    with pytest.raises(InvalidInput):
        check_url(url)


def test_a_base_url_is_taken_without_its_slash():
    assert check_url("https://host-b.example:7200/") == "https://host-b.example:7200"
    assert check_url("http://[fd00::2]:7200") == "http://[fd00::2]:7200"


@pytest.mark.parametrize("commands", [(), ("echo hi",), ("a && b", "it's", "x;y", 'say "$HOME"')])
def test_a_sites_commands_are_read_back_from_its_start_script(commands):
    assert commands_of(start_script(commands)) == commands


def test_a_script_not_made_by_start_script_has_no_commands():
    assert commands_of('( [ -f /var/www/starter.sh ] && sh /var/www/starter.sh; rm -rf /; ) & exec "$@"') is None
