"""Sites on the site network: create, the listing's `isolated`, and POST /v1/container/isolate."""

from __future__ import annotations

from dockerlink.engine import NetworkInfo

VALID = {"name": "site1", "host_port_root": 10000, "memory": 0.5, "cpulimit": 1.5}


def test_a_new_site_is_created_on_the_site_network_made_for_it(client, fake_engine):
    r = client.simulate_put("/v1/container", json=VALID)
    assert r.status_code == 200
    assert fake_engine.containers.last_create["HostConfig"]["NetworkMode"] == "dockerlink-sites"
    net = fake_engine.networks.by_name["dockerlink-sites"]
    assert net.options["com.docker.network.bridge.enable_icc"] == "false"
    listed = client.simulate_get("/v1/container").json["success"]
    assert listed[r.json["Id"]]["isolated"] is True


def test_a_site_on_the_default_bridge_is_listed_not_isolated_and_isolate_moves_it(client, fake_engine):
    old = fake_engine.containers.add(
        "old", labels={"dockerlink": "0.0.9", "dockerlink.host_port_root": "20000"}, networks=("bridge",)
    )
    other = fake_engine.containers.add("db", labels={})  # not dockerlink's: no `isolated`
    listed = client.simulate_get("/v1/container").json["success"]
    assert listed[old.id]["isolated"] is False
    assert "isolated" not in listed[other.id]
    r = client.simulate_post("/v1/container/isolate", params={"id": "old"})
    assert r.status_code == 200
    assert r.json == {"id": old.id, "isolated": True, "moved": True}
    assert fake_engine.containers.by_id[old.id].networks == ("dockerlink-sites",)
    again = client.simulate_post("/v1/container/isolate", params={"id": old.id})
    assert again.json == {"id": old.id, "isolated": True, "moved": False}


def test_isolate_refuses_a_container_dockerlink_did_not_make_and_an_unknown_id(client, fake_engine):
    fake_engine.containers.add("db", labels={})
    assert client.simulate_post("/v1/container/isolate", params={"id": "db"}).status_code == 403
    assert client.simulate_post("/v1/container/isolate", params={"id": "nope"}).status_code == 404
    assert client.simulate_post("/v1/container/isolate").status_code == 400


def test_a_create_onto_a_site_network_someone_else_made_is_a_503_in_one_line(client, fake_engine):
    fake_engine.networks.by_name["dockerlink-sites"] = NetworkInfo(
        "b" * 64, "dockerlink-sites", "bridge", {}, {}, ("172.30.0.0/16",), ("172.30.0.1",)
    )
    r = client.simulate_put("/v1/container", json=VALID)
    assert r.status_code == 503
    assert r.text.startswith("site_network: network dockerlink-sites exists but dockerlink did not make it")
    assert not fake_engine.containers.by_id and not fake_engine.volumes.names
