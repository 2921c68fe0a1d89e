from __future__ import annotations

from dockerlink.engine import ExecResult
from dockerlink.ownership import LABEL
from tests.access.keys import key_line
from tests.access.test_sessions import PS


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


def _ps_then_ok(argv, **kw):  # noqa: ANN001, ANN202
    return ExecResult(0, PS.encode() if argv[0] == "ps" else b"", b"")


def test_a_new_password_ends_the_sessions_after_it_is_written(client, fake_engine):
    c = _site(fake_engine)
    fake_engine.execs.handler = _ps_then_ok
    r = client.simulate_post("/v1/container/access", params={"id": "site1"}, json={"password": "new password 123"})
    assert r.status_code == 204
    assert "admin:$6$" in fake_engine.archives.text(c.id, "/etc/shadow")
    assert [call["argv"][0] for call in fake_engine.execs.calls] == ["ps", "sh"]
    assert sorted(fake_engine.execs.calls[1]["argv"][-7:], key=int) == ["20", "21", "22", "30", "31", "32", "50"]


def test_a_key_taken_away_ends_the_sessions_and_a_key_added_does_not(client, fake_engine):
    _site(fake_engine)
    fake_engine.execs.handler = _ps_then_ok
    first, second = key_line("ssh-ed25519"), key_line("ssh-rsa")
    post = lambda keys: client.simulate_post("/v1/container/access", params={"id": "site1"}, json={"ssh_keys": keys})  # noqa: E731
    assert post([first]).status_code == 204  # none before: nothing taken away
    assert post([key_line("ssh-ed25519", comment="renamed"), second]).status_code == 204  # one added
    assert fake_engine.execs.calls == []
    assert post([second]).status_code == 204  # `first` taken away
    assert [call["argv"][0] for call in fake_engine.execs.calls] == ["ps", "sh"]


def test_a_stopped_site_has_no_session_to_end(client, fake_engine):
    fake_engine.containers.add("site1", labels={LABEL: "0.1.0"}, running=False)
    r = client.simulate_post("/v1/container/access", params={"id": "site1"}, json={"password": "new password 123"})
    assert r.status_code == 204 and fake_engine.execs.calls == []


def test_an_image_without_ps_keeps_its_sessions_and_the_change_is_made(client, fake_engine, caplog):
    c = _site(fake_engine)
    fake_engine.execs.results = [ExecResult(126, b"", b'exec: "ps": executable file not found in $PATH')]
    r = client.simulate_post("/v1/container/access", params={"id": "site1"}, json={"password": "new password 123"})
    assert r.status_code == 204 and "admin:$6$" in fake_engine.archives.text(c.id, "/etc/shadow")
    assert len(fake_engine.execs.calls) == 1 and "live sessions were not ended" in caplog.text
