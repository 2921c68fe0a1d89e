"""The container endpoints over a fake engine: validation, statuses, bodies (docs/contract.md §3.1)."""

from __future__ import annotations

import pytest

from dockerlink.engine import EngineInfo, ServerError

VALID = {"name": "site1", "host_port_root": 10000, "memory": 0.5, "cpulimit": 1.5}


def create(client, body=None, **params):
    return client.simulate_put("/v1/container", json=VALID if body is None else body, params=params or None)


def test_create_answers_exactly_200_with_id_and_empty_warning_list(client, fake_engine):
    """200, as the original: the PHP panel takes anything else for a failed create."""
    r = create(client)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json["warning"] == []
    assert r.json["Id"] in fake_engine.containers.by_id


def test_create_maps_limits_ports_volume_labels_and_restart_policy(client, fake_engine):
    r = create(client, {**VALID, "ports": ["3000/udp", 8080 - 5000, "4000"]})
    c = fake_engine.containers.by_id[r.json["Id"]]
    assert c.memory == c.memory_swap == round(0.5 * 2**30)
    assert (c.cpu_period, c.cpu_quota) == (100000, 150000)
    assert c.restart_policy == "unless-stopped"
    assert c.labels["dockerlink"] and c.labels["dockerlink.host_port_root"] == "10000"
    assert c.labels["ports"] == "10000"  # the original's label: it could still manage the site
    assert c.volumes == {"/var/www": "dockerlink-site1-www"}
    assert "dockerlink-site1-www" in fake_engine.volumes.names
    published = {(b.key, b.host_ip, b.host_port) for b in c.port_bindings}
    assert published == {
        ("22/tcp", "127.0.0.1", 10022),
        ("80/tcp", "127.0.0.1", 10080),
        ("443/tcp", "127.0.0.1", 10443),
        ("4200/tcp", "127.0.0.1", 10000),  # the web terminal: loopback only, whatever publish_ip
        ("3000/udp", "127.0.0.1", 13000),
        ("3080/tcp", "127.0.0.1", 13080),
        ("4000/tcp", "127.0.0.1", 14000),
    }
    # Every binding is exposed with its suffix, or the engine would silently drop it.
    assert set(fake_engine.containers.last_create["ExposedPorts"]) == {b[0] for b in published}


def test_create_runs_starter_then_commands_then_the_image_keepalive(client, fake_engine):
    create(client, {**VALID, "commands": ["apt-get update", "service nginx start"]})
    body = fake_engine.containers.last_create
    assert body["Entrypoint"][:2] == ["/bin/sh", "-c"]
    script = body["Entrypoint"][2]
    assert script.index("/var/www/starter.sh") < script.index("sh -c 'apt-get update' && sh -c 'service nginx start'")
    assert script.endswith(') & exec "$@"')
    assert body["Cmd"] == ["/usr/local/bin/dockerlink-keepalive"]
    assert body["WorkingDir"] == "/var/www/html"


def test_create_drops_every_capability_but_the_measured_few_and_sets_no_new_privileges(client, fake_engine):
    create(client)
    host = fake_engine.containers.last_create["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "KILL",
        "NET_BIND_SERVICE",
        "SETGID",
        "SETUID",
        "SYS_CHROOT",
    ]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]  # and no seccomp=unconfined


def test_create_is_not_started_unless_asked(client, fake_engine):
    created = fake_engine.containers.by_id[create(client).json["Id"]]
    assert not created.running
    started = fake_engine.containers.by_id[
        create(client, {**VALID, "name": "s2", "host_port_root": 20000}, start="true").json["Id"]
    ]
    assert started.running


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "-bad"}, "name"),
        ({"name": "a/../b"}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"host_port_root": "10000"}, "host_port_root"),
        ({"host_port_root": True}, "host_port_root"),
        ({"host_port_root": 80}, "host_port_root"),
        ({"host_port_root": 61000}, "host_port_root"),
        ({"memory": 0.001}, "memory"),
        ({"memory": -1}, "memory"),
        ({"memory": "1"}, "memory"),
        ({"memory": float("nan")}, "memory"),
        ({"cpulimit": 0.001}, "cpulimit"),
        ({"cpulimit": -0.5}, "cpulimit"),
        ({"cpulimit": "2"}, "cpulimit"),
        ({"cpulimit": None}, "cpulimit"),
        ({"ports": ["5000/tcp"]}, "ports"),
        ({"ports": ["80/sctp"]}, "ports"),
        ({"ports": ["-1"]}, "ports"),
        ({"ports": "80"}, "ports"),
        ({"image": ""}, "image"),
        ({"image": "../etc"}, "image"),
        ({"image": "no/such:image"}, "image"),
        ({"commands": "echo hi"}, "commands"),
        ({"commands": [""]}, "commands"),
        ({"commands": ["echo ok", "sleep 1 & && true"]}, "commands"),
        ({"commands": ["echo 'unclosed"]}, "commands"),
    ],
)
def test_create_refuses_bad_fields_with_400_naming_the_field(client, fake_engine, change, field):
    body = {**VALID, **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = create(client, body)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith(f"{field}:")
    assert r.text.count("\n") == 1
    assert not fake_engine.containers.by_id


@pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b"", b'"text"'])
def test_create_refuses_a_body_that_is_not_a_json_object(client, raw):
    r = client.simulate_put("/v1/container", body=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.text.startswith("body:")


def test_create_refuses_a_body_over_one_mebibyte_with_413(client):
    r = client.simulate_put("/v1/container", body=b"{" + b" " * (1 << 20) + b"}")
    assert r.status_code == 413


def test_create_refuses_an_overlapping_port_area_with_409_naming_the_container(client):
    assert create(client).status_code == 200
    r = create(client, {**VALID, "name": "site2", "host_port_root": 14999})
    assert r.status_code == 409
    assert "site1" in r.text
    assert create(client, {**VALID, "name": "site3", "host_port_root": 15000}).status_code == 200


def test_create_counts_the_original_services_ports_label_as_an_area(client, fake_engine):
    fake_engine.containers.add("legacy", labels={"dockerlink": "1.0", "ports": "30000"})
    r = create(client, {**VALID, "host_port_root": 32000})
    assert r.status_code == 409 and "legacy" in r.text


def test_create_with_a_name_in_use_is_409(client):
    create(client)
    r = create(client, {**VALID, "host_port_root": 40000})
    assert r.status_code == 409


def test_create_start_with_a_taken_host_port_is_409_naming_it_and_leaves_no_container(client, fake_engine):
    fake_engine.host_ports_in_use.add(10080)
    r = create(client, start="true")
    assert r.status_code == 409
    assert "10080" in r.text
    assert not fake_engine.containers.by_id
    assert "dockerlink-site1-www" in fake_engine.volumes.names  # data never dropped


def test_list_describes_every_container_and_marks_foreign_ones(client, fake_engine):
    cid = create(client).json["Id"]
    other = fake_engine.containers.add("postgres", exposed_ports=("5432/tcp",))
    body = client.simulate_get("/v1/container").json
    assert body["error"] == {}
    mine = body["success"][cid]
    assert mine["name"] == "/site1" and mine["host_port_root"] == 10000 and mine["state"] == "created"
    assert mine["ports"] == {"22/tcp": {}, "443/tcp": {}, "80/tcp": {}, "4200/tcp": {}}
    assert mine["exit_code"] == 0 and "started_at" not in mine
    theirs = body["success"][other.id]
    assert theirs["dockerlink"] == "not_dockerlink" and theirs["host_port_root"] is None
    assert theirs["started_at"] == 1_700_000_000 and "exit_code" not in theirs


def test_list_with_trailing_slash_is_the_same_endpoint(client, fake_engine):
    fake_engine.containers.add("x1")
    assert client.simulate_get("/v1/container/").json == client.simulate_get("/v1/container").json


def test_running_true_lists_only_running_false_only_the_others_absent_all(client, fake_engine):
    up = fake_engine.containers.add("up")
    down = fake_engine.containers.add("down", running=False)
    assert list(client.simulate_get("/v1/container", params={"running": "true"}).json["success"]) == [up.id]
    assert list(client.simulate_get("/v1/container", params={"running": "false"}).json["success"]) == [down.id]
    assert set(client.simulate_get("/v1/container").json["success"]) == {up.id, down.id}


def test_list_by_id_keys_entries_as_asked_and_one_bad_id_fails_only_itself(client, fake_engine):
    up = fake_engine.containers.add("up")
    r = client.simulate_get(
        "/v1/container", query_string=f"id=up&id={up.id[:12]}&id=missing&id=a%2F..%2Fb&running=false"
    )
    assert r.status_code == 200
    assert set(r.json["success"]) == {"up", up.id[:12]}
    assert set(r.json["error"]) == {"missing", "a/../b"}
    assert "No such container" in r.json["error"]["missing"]


def test_an_ambiguous_prefix_is_a_400(client, fake_engine):
    fake_engine.containers.add("one", labels={"dockerlink": "x"}, id="abc1" + "0" * 60)
    fake_engine.containers.add("two", labels={"dockerlink": "x"}, id="abc2" + "0" * 60)
    r = client.simulate_post("/v1/container/stop", params={"id": "abc"})
    assert r.status_code == 400
    assert "Multiple IDs" in r.text


def test_delete_removes_the_volume_by_default_and_drops_the_history(client, fake_engine, fake_store):
    """As the original: a name given later to another user must start empty."""
    cid = create(client, start="true").json["Id"]
    r = client.simulate_delete("/v1/container", params={"id": "site1"})
    assert r.status_code == 204
    assert cid not in fake_engine.containers.by_id
    assert "dockerlink-site1-www" not in fake_engine.volumes.names
    assert fake_store.forgotten == [cid]


@pytest.mark.parametrize("param", ["volumes", "deletevolume"])
def test_delete_keeps_the_volume_only_when_asked(client, fake_engine, param):
    create(client)
    assert client.simulate_delete("/v1/container", params={"id": "site1", param: "false"}).status_code == 204
    assert "dockerlink-site1-www" in fake_engine.volumes.names
    create(client)
    assert client.simulate_delete("/v1/container", params={"id": "site1", param: "true"}).status_code == 204
    assert "dockerlink-site1-www" not in fake_engine.volumes.names


def test_delete_of_a_missing_container_is_404(client):
    assert client.simulate_delete("/v1/container", params={"id": "nope"}).status_code == 404


@pytest.mark.parametrize("query", ["", "id=", "id=a/b", "id=..", "id=" + "x" * 129, "id=%00"])
def test_a_missing_or_malformed_id_is_400(client, query):
    r = client.simulate_delete("/v1/container", query_string=query)
    assert r.status_code == 400
    assert r.text.startswith("id:")


def test_foreign_containers_are_read_only(client, fake_engine):
    db = fake_engine.containers.add("database")
    for r in (
        client.simulate_delete("/v1/container", params={"id": "database"}),
        client.simulate_patch("/v1/container", params={"id": "database"}, json={"memory": 1}),
        client.simulate_post("/v1/container/stop", params={"id": "database"}),
        client.simulate_post("/v1/container/restart", params={"id": "database"}),
    ):
        assert r.status_code == 403
        assert "not created by dockerlink" in r.text
    assert fake_engine.containers.by_id[db.id].running


def test_a_foreign_container_cannot_be_started(client, fake_engine):
    db = fake_engine.containers.add("database", running=False)
    r = client.simulate_post("/v1/container/start", params={"id": "database"})
    assert r.status_code == 403
    assert "not created by dockerlink" in r.text
    assert not fake_engine.containers.by_id[db.id].running


def test_resize_sets_memory_and_swap_together_and_cpu_quota(client, fake_engine):
    cid = create(client, start="true").json["Id"]
    r = client.simulate_patch("/v1/container", params={"id": cid}, json={"memory": 1.25})
    assert r.status_code == 200 and r.json == {"warning": []}
    c = fake_engine.containers.by_id[cid]
    assert c.memory == c.memory_swap == round(1.25 * 2**30)
    client.simulate_patch("/v1/container", params={"id": cid}, json={"cpulimit": 0.25})
    assert fake_engine.containers.by_id[cid].cpu_quota == 25000
    assert fake_engine.containers.by_id[cid].memory == round(1.25 * 2**30)


@pytest.mark.parametrize(
    ("body", "start"),
    [
        ({}, "body:"),
        ({"memory": None}, "body:"),
        ({"memory": 0.001}, "memory:"),
        ({"memory": -1}, "memory:"),
        ({"cpulimit": -1}, "cpulimit:"),
        ({"cpulimit": "1"}, "cpulimit:"),
    ],
)
def test_resize_refuses_bad_values_before_the_engine(client, fake_engine, body, start):
    cid = create(client).json["Id"]
    r = client.simulate_patch("/v1/container", params={"id": cid}, json=body)
    assert r.status_code == 400 and r.text.startswith(start)


def test_resize_below_current_usage_is_409_with_the_engine_message(client, fake_engine):
    cid = create(client, start="true").json["Id"]
    fake_engine.memory_in_use[cid] = 300 << 20
    r = client.simulate_patch("/v1/container", params={"id": cid}, json={"memory": 0.1})
    assert r.status_code == 409
    assert "unable to set memory limit" in r.text


@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_actions_are_idempotent_204s(client, fake_engine, action):
    create(client)
    for _ in range(2):
        r = client.simulate_post(f"/v1/container/{action}", params={"id": "site1"})
        assert r.status_code == 204 and r.text == ""


def test_start_with_a_taken_host_port_is_409(client, fake_engine):
    create(client)
    fake_engine.host_ports_in_use.add(10443)
    r = client.simulate_post("/v1/container/start", params={"id": "site1"})
    assert r.status_code == 409 and "10443" in r.text


@pytest.mark.parametrize("t", ["-1", "x", "601"])
def test_stop_refuses_a_bad_t(client, t):
    create(client)
    r = client.simulate_post("/v1/container/stop", params={"id": "site1", "t": t})
    assert r.status_code == 400 and r.text.startswith("t:")


def test_wrong_method_is_405(client):
    assert client.simulate_get("/v1/container/start").status_code == 405
    assert client.simulate_post("/v1/container").status_code == 405


def test_an_unreachable_engine_is_503_with_one_line(client, fake_engine):
    fake_engine.up = False
    for r in (
        client.simulate_get("/v1/container"),
        create(client),
        client.simulate_post("/v1/container/start", params={"id": "x"}),
    ):
        assert r.status_code == 503
        assert r.text.count("\n") == 1 and "unreachable" in r.text


def test_an_unexpected_engine_error_is_502_without_a_trace(client, fake_engine, monkeypatch):
    def boom(ref):
        raise ServerError(500, "something odd\nin two lines")

    monkeypatch.setattr(fake_engine.containers, "inspect", boom)
    r = client.simulate_post("/v1/container/start", params={"id": "x"})
    assert r.status_code == 502
    assert r.text.count("\n") == 1 and "something odd in two lines" in r.text


def test_a_bug_is_500_with_no_trace_in_the_body(client, fake_engine, monkeypatch):
    monkeypatch.setattr(fake_engine.system, "info", lambda: 1 / 0)
    r = create(client)
    assert r.status_code == 500
    assert "Traceback" not in r.text and "ZeroDivision" not in r.text


def test_a_cpulimit_above_the_engines_cores_is_accepted_with_a_warning(client, fake_engine, monkeypatch):
    monkeypatch.setattr(fake_engine.system, "info", lambda: EngineInfo(8, 1 << 30, "2", "systemd"))
    assert create(client, {**VALID, "cpulimit": 8}).json["warning"] == []
    r = create(client, {**VALID, "name": "big", "host_port_root": 20000, "cpulimit": 12})
    assert r.status_code == 200
    [warning] = r.json["warning"]
    assert "above this host's 8 cores" in warning
    assert fake_engine.containers.by_id[r.json["Id"]].cpu_quota == 1_200_000


def test_create_with_memory_0_and_cpulimit_0_sets_no_limit(client, fake_engine):
    r = create(client, {**VALID, "memory": 0, "cpulimit": 0})
    assert r.status_code == 200 and r.json["warning"] == []
    host = fake_engine.containers.last_create["HostConfig"]
    assert not {"Memory", "MemorySwap", "CpuQuota", "CpuPeriod"} & set(host)


def test_resize_cpulimit_0_removes_the_cpu_limit_with_quota_minus_1(client, fake_engine):
    cid = create(client).json["Id"]
    r = client.simulate_patch("/v1/container", params={"id": cid}, json={"cpulimit": 0})
    assert (r.status_code, r.json) == (200, {"warning": []})
    assert fake_engine.containers.by_id[cid].cpu_quota == -1  # 0 would mean "unchanged" to the engine


def test_resize_memory_0_sets_the_hosts_memory_with_a_warning(client, fake_engine):
    cid = create(client).json["Id"]
    r = client.simulate_patch("/v1/container", params={"id": cid}, json={"memory": 0})
    assert r.status_code == 200
    [warning] = r.json["warning"]
    assert "host's total memory" in warning
    c = fake_engine.containers.by_id[cid]
    assert c.memory == c.memory_swap == 8 << 30


def test_resize_cpulimit_above_the_hosts_cores_is_accepted_with_a_warning(client, fake_engine):
    cid = create(client).json["Id"]
    r = client.simulate_patch("/v1/container", params={"id": cid}, json={"cpulimit": 6})
    assert r.status_code == 200 and "above this host's 4 cores" in r.json["warning"][0]
    assert fake_engine.containers.by_id[cid].cpu_quota == 600_000


def test_listing_fails_whole_when_one_inspect_fails_for_another_reason_than_missing(client, fake_engine, monkeypatch):
    """The PHP panel deletes every key of `error` from its database: an engine hiccup must
    not land there, or it would erase a site from the panel."""
    ok = fake_engine.containers.add("ok")
    sick = fake_engine.containers.add("sick")
    inspect = fake_engine.containers.inspect

    def failing(ref):
        if ref in (sick.id, "sick"):
            raise ServerError(500, "context deadline exceeded")
        return inspect(ref)

    monkeypatch.setattr(fake_engine.containers, "inspect", failing)
    for query in ("", f"id={ok.id}&id=sick", "id=sick"):
        r = client.simulate_get("/v1/container", query_string=query)
        assert r.status_code == 502, query
        assert r.headers["content-type"].startswith("text/plain")
    fake_engine.up = False
    assert client.simulate_get("/v1/container", query_string=f"id={ok.id}").status_code == 503


def test_listing_by_id_puts_only_missing_or_malformed_ids_in_error(client, fake_engine):
    ok = fake_engine.containers.add("ok")
    r = client.simulate_get("/v1/container", query_string=f"id={ok.id}&id={'f' * 64}&id=a%2Fb")
    assert r.status_code == 200
    assert list(r.json["success"]) == [ok.id]
    assert set(r.json["error"]) == {"f" * 64, "a/b"}


def test_a_disk_quota_given_at_create_and_changed_by_patch_is_what_the_disk_meter_reads(client, fake_engine, config):
    from dockerlink.backups.disk import Quotas

    cid = create(client, body={"name": "site1", "host_port_root": 20000, "memory": 1, "cpulimit": 1, "disk": 2}).json[
        "Id"
    ]
    assert Quotas(config).all() == {cid: 2.0}
    r = client.simulate_patch("/v1/container", params={"id": cid}, json={"disk": 0.5})
    assert r.status_code == 200 and r.json == {"warning": []}
    assert Quotas(config).all() == {cid: 0.5}
    limits = (fake_engine.containers.by_id[cid].memory, fake_engine.containers.by_id[cid].cpu_quota)
    client.simulate_patch("/v1/container", params={"id": cid}, json={"memory": 2, "disk": None})
    assert Quotas(config).all() == {}  # null: no quota
    assert fake_engine.containers.by_id[cid].memory == 2 << 30 != limits[0]  # the limits changed too


@pytest.mark.parametrize("disk", [-1, "1", True, 2_000_000])
def test_a_bad_disk_quota_is_a_400_before_anything_is_created_or_changed(client, fake_engine, config, disk):
    from dockerlink.backups.disk import Quotas

    body = {"name": "site1", "host_port_root": 20000, "memory": 1, "cpulimit": 1, "disk": disk}
    r = client.simulate_put("/v1/container", json=body)
    assert r.status_code == 400 and r.text.startswith("disk:")
    assert not fake_engine.containers.by_id
    cid = create(client).json["Id"]
    memory = fake_engine.containers.by_id[cid].memory
    r = client.simulate_patch("/v1/container", params={"id": cid}, json={"memory": 2, "disk": disk})
    assert r.status_code == 400 and r.text.startswith("disk:")
    assert fake_engine.containers.by_id[cid].memory == memory and Quotas(config).all() == {}
