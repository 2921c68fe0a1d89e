from __future__ import annotations

from dockerlink.ownership import LABEL
from tests.access.keys import key_line


def _site(fake_engine, running: bool = True):
    return fake_engine.containers.add("site1", labels={LABEL: "0.1.0"}, running=running)


def test_access_replaces_password_and_keys_with_204(client, fake_engine):
    c = _site(fake_engine)
    r = client.simulate_post(
        "/v1/container/access", params={"id": "site1"}, json={"password": "new password 123", "ssh_keys": [key_line()]}
    )
    assert r.status_code == 204
    assert "admin:$6$" in fake_engine.archives.text(c.id, "/etc/shadow")
    assert fake_engine.archives.text(c.id, "/var/www/.ssh/authorized_keys") == key_line() + "\n"


def test_access_applies_to_a_stopped_container_too(client, fake_engine):
    c = _site(fake_engine, running=False)
    r = client.simulate_post("/v1/container/access", params={"id": "site1"}, json={"password": "new password 123"})
    assert r.status_code == 204 and "admin:$6$" in fake_engine.archives.text(c.id, "/etc/shadow")


def test_access_without_password_or_keys_is_a_400(client, fake_engine):
    _site(fake_engine)
    r = client.simulate_post("/v1/container/access", params={"id": "site1"}, json={})
    assert r.status_code == 400 and r.text.startswith("body:")


def test_access_to_an_image_without_admin_is_a_409_naming_the_user(client, fake_engine):
    c = _site(fake_engine)
    fake_engine.archives.without_admin.add(c.id)
    r = client.simulate_post("/v1/container/access", params={"id": "site1"}, json={"password": "new password 123"})
    assert r.status_code == 409 and "admin" in r.text


def test_access_to_a_container_dockerlink_did_not_create_is_a_403(client, fake_engine):
    fake_engine.containers.add("db")
    r = client.simulate_post("/v1/container/access", params={"id": "db"}, json={"password": "new password 123"})
    assert r.status_code == 403


def test_access_bad_password_is_a_400_that_never_echoes_it(client, fake_engine):
    _site(fake_engine)
    r = client.simulate_post("/v1/container/access", params={"id": "site1"}, json={"password": "short\x01pw"})
    assert r.status_code == 400 and "short" not in r.text
