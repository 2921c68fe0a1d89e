"""Create, list and delete with the site owner's login and, with site_domain set, nginx site
files (nginx stood in by small shell commands; the real one is in tests/integration)."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from tests.access.keys import key_line
from tests.access.lineages import write_lineage

VALID = {"name": "site1", "host_port_root": 10000, "memory": 0.5, "cpulimit": 1.5}
REFUSE = ("sh", "-c", "echo 'nginx: [emerg] unknown directive \"oops\" in site1.conf:3' >&2; exit 1")


@pytest.fixture
def domain_config(config, tmp_path):
    (tmp_path / "conf.d").mkdir()
    return dataclasses.replace(
        config,
        site_domain="example.org",
        nginx_dir=str(tmp_path / "conf.d"),
        nginx_check=("true",),
        nginx_reload=("true",),
    )


def app(config, fake_engine, fake_store) -> TestClient:
    return TestClient(create_app(config, engine=fake_engine, store=fake_store))


def test_create_without_credentials_returns_a_random_password_once_and_stores_only_its_hash(client, fake_engine):
    r = client.simulate_put("/v1/container", json=VALID)
    password = r.json["password"]
    assert r.status_code == 200 and len(password) >= 20
    shadow = fake_engine.archives.text(r.json["Id"], "/etc/shadow")
    assert "admin:$6$" in shadow and password not in shadow
    c = fake_engine.containers.by_id[r.json["Id"]]
    assert password not in json.dumps(dataclasses.asdict(c))  # not in config, labels, command
    listing = client.simulate_get("/v1/container").text
    assert password not in listing


def test_create_with_keys_only_sets_them_and_returns_no_password(client, fake_engine):
    r = client.simulate_put("/v1/container", json={**VALID, "ssh_keys": [key_line()]})
    assert r.status_code == 200 and "password" not in r.json
    assert fake_engine.archives.text(r.json["Id"], "/var/www/.ssh/authorized_keys") == key_line() + "\n"


def test_create_with_a_bad_key_is_a_400_before_the_engine_is_called(client, fake_engine):
    r = client.simulate_put("/v1/container", json={**VALID, "ssh_keys": ["from=x " + key_line()]})
    assert r.status_code == 400 and r.text.startswith("ssh_keys:")
    assert fake_engine.containers.by_id == {} and fake_engine.volumes.names == {}


def test_create_from_an_image_without_admin_makes_no_password_but_a_given_one_is_a_409(client, fake_engine):
    real = fake_engine.archives._file
    fake_engine.archives._file = lambda cid, path: (
        (b"root:x:0:0::/root:/bin/sh\n", 0o644, 0, 0) if path == "/etc/passwd" else real(cid, path)
    )
    r = client.simulate_put("/v1/container", json=VALID)
    assert r.status_code == 200 and "password" not in r.json
    client.simulate_delete("/v1/container", params={"id": "site1", "volumes": "true"})
    r = client.simulate_put("/v1/container", json={**VALID, "password": "a given password"})
    assert r.status_code == 409 and "no user admin" in r.text
    assert fake_engine.containers.by_id == {} and fake_engine.volumes.names == {}


def test_with_site_domain_create_writes_the_site_file_and_delete_removes_it(
    domain_config, fake_engine, fake_store, tmp_path
):
    client = app(domain_config, fake_engine, fake_store)
    r = client.simulate_put("/v1/container", json=VALID)
    assert r.status_code == 200
    site_file = tmp_path / "dockerlink-routes" / "site1.map"
    assert "ssh.site1.example.org 127.0.0.1:10000;" in site_file.read_text()
    entry = client.simulate_get("/v1/container", params={"id": "site1"}).json["success"]["site1"]
    assert entry["urls"] == {"site": "http://site1.example.org/", "terminal": "http://ssh.site1.example.org/wetty"}
    assert entry["tls"] == "none"
    assert client.simulate_delete("/v1/container", params={"id": "site1"}).status_code == 204
    assert not site_file.exists()


@pytest.mark.parametrize("name", ["_x", "Site1", "a.b", "a" * 64])
def test_with_site_domain_a_name_that_is_not_a_dns_label_is_a_400(domain_config, fake_engine, fake_store, name):
    r = app(domain_config, fake_engine, fake_store).simulate_put("/v1/container", json={**VALID, "name": name})
    assert r.status_code == 400 and r.text.startswith("name:")


def test_a_refused_nginx_check_undoes_the_create_with_a_502_naming_the_complaint(
    domain_config, fake_engine, fake_store, tmp_path
):
    client = app(dataclasses.replace(domain_config, nginx_check=REFUSE), fake_engine, fake_store)
    r = client.simulate_put("/v1/container", json=VALID, params={"start": "true"})
    assert r.status_code == 502 and 'unknown directive "oops"' in r.text
    assert fake_engine.containers.by_id == {} and fake_engine.volumes.names == {}
    assert list((tmp_path / "conf.d").iterdir()) == [] and list((tmp_path / "dockerlink-routes").iterdir()) == []


def test_nginx_files_that_cannot_be_written_undo_the_create_with_a_one_line_502(
    domain_config, fake_engine, fake_store, tmp_path
):
    (tmp_path / "a-file").write_text("not a directory\n")
    config = dataclasses.replace(domain_config, nginx_dir=str(tmp_path / "a-file" / "conf.d"))
    r = app(config, fake_engine, fake_store).simulate_put("/v1/container", json=VALID)
    assert r.status_code == 502 and r.text.startswith("could not write the site's nginx files: ")
    assert "\n" not in r.text.strip() and "Traceback" not in r.text
    assert fake_engine.containers.by_id == {} and fake_engine.volumes.names == {}


def test_a_refused_nginx_check_keeps_a_volume_the_create_found(domain_config, fake_engine, fake_store):
    fake_engine.volumes.create("dockerlink-site1-www")
    client = app(dataclasses.replace(domain_config, nginx_check=REFUSE), fake_engine, fake_store)
    assert client.simulate_put("/v1/container", json=VALID).status_code == 502
    assert "dockerlink-site1-www" in fake_engine.volumes.names


def test_with_certbot_the_listing_shows_tls_state(domain_config, fake_engine, fake_store, tmp_path):
    certbot = tmp_path / "certbot"
    certbot.write_text("#!/bin/sh\nexit 0\n")
    certbot.chmod(0o755)
    config = dataclasses.replace(domain_config, site_tls="certbot", certbot_cmd=(str(certbot),))
    client = app(config, fake_engine, fake_store)
    client.simulate_put("/v1/container", json=VALID)
    for thread in threading.enumerate():
        if thread.name == "certbot-site1":
            thread.join(30)
    entry = client.simulate_get("/v1/container", params={"id": "site1"}).json["success"]["site1"]
    assert entry["tls"] == "ok" and entry["urls"]["site"] == "https://site1.example.org/"


def test_env_reports_site_domain_and_tls(domain_config, fake_engine, fake_store):
    body = app(domain_config, fake_engine, fake_store).simulate_get("/v1/env").json
    assert (body["site_domain"], body["tls"]) == ("example.org", "none")


def test_with_certbot_routes_the_listing_says_ok_once_the_copy_is_written_and_delete_removes_it(
    domain_config, fake_engine, fake_store, tmp_path
):
    certbot = tmp_path / "certbot"
    certbot.write_text("#!/bin/sh\nexit 0\n")  # the lineage is there already (below)
    certbot.chmod(0o755)
    config = dataclasses.replace(
        domain_config, site_tls="certbot-routes", certbot_cmd=(str(certbot),), certbot_dir=str(tmp_path / "le")
    )
    write_lineage(tmp_path / "le", "dockerlink-site1", ["site1.example.org", "ssh.site1.example.org"])
    client = app(config, fake_engine, fake_store)
    assert client.simulate_put("/v1/container", json=VALID).status_code == 200
    for thread in threading.enumerate():
        if thread.name == "certbot-site1":
            thread.join(30)
    entry = client.simulate_get("/v1/container", params={"id": "site1"}).json["success"]["site1"]
    assert entry["tls"] == "ok" and entry["urls"]["terminal"] == "https://ssh.site1.example.org/wetty"
    assert (tmp_path / "dockerlink-routes/site1.tls").is_file()
    assert (tmp_path / "dockerlink-certs/site1.pem").is_file()
    assert "listen 443 ssl;" in (tmp_path / "conf.d/dockerlink.conf").read_text()
    r = client.simulate_delete("/v1/container", params={"id": "site1", "volumes": "true"})
    assert r.status_code == 204
    assert sorted(p.name for p in (tmp_path / "dockerlink-certs").iterdir()) == [".password"]
    assert list((tmp_path / "dockerlink-routes").iterdir()) == []
