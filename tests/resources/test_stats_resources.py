import json

import pytest
from falcon import testing

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.engine import ContainerDetails, EngineInfo, EngineUnavailable
from dockerlink.openapi import document
from dockerlink.stats.samples import Reading, Sample
from dockerlink.stats.store import StatsStore
from tests.stats.trees import FakeContainers, details

SITE = "4" * 64
GONE = "5" * 64
FRESH = "6" * 64
TOKEN = "t" * 32
T0 = 1_700_000_400.0  # a multiple of 120


class FakeSystem:
    def __init__(self) -> None:
        self.asked = 0

    def info(self) -> EngineInfo:
        self.asked += 1
        return EngineInfo(cpus=2, memory_total=4 << 30, cgroup_version="2", cgroup_driver="systemd")


class FakeEngine:
    def __init__(self) -> None:
        self.containers = FakeContainers()
        self.system = FakeSystem()


def site(
    container_id: str, *, state: str = "created", memory: int = 0, quota: int = 0, labels=None
) -> ContainerDetails:
    """A dockerlink site as the engine describes it (never sampled yet)."""
    return ContainerDetails.from_api(
        {
            "Id": container_id,
            "Name": "/fresh",
            "State": {"Status": state, "Running": state == "running"},
            "Config": {"Labels": {"dockerlink": "0.1.0"} if labels is None else labels},
            "HostConfig": {"Memory": memory, "MemorySwap": memory, "CpuQuota": quota, "CpuPeriod": 100000},
        }
    )


def sample(ts: float, cpu: float) -> Sample:
    return Sample(ts, cpu, 50.0, 2**20, 2**26, 2048, 4096, 1024, 0)


@pytest.fixture
def store(tmp_path):
    s = StatsStore(str(tmp_path / "stats.sqlite3"))
    for i in range(13):  # two minutes and a bit, every 10 s
        ts = T0 + 10 * i
        s.record_round(
            ts, [(Reading(SITE, ts, True), sample(ts, float(i))), (Reading(GONE, ts, True), sample(ts, 1.0))]
        )
        s.maintain(ts)
    yield s
    s.close()


@pytest.fixture
def engine():
    e = FakeEngine()
    e.containers.details["site"] = details(SITE, 10)
    e.containers.details[SITE] = details(SITE, 10)
    e.containers.details["fresh"] = details(FRESH, 11)
    return e


@pytest.fixture
def client(engine, store):
    return testing.TestClient(create_app(Config(), engine=engine, store=store))


def test_history_by_name_is_json_keyed_by_ascending_timestamps(client):
    r = client.simulate_get("/v1/container/stats", params={"id": "site", "since": "0"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    keys = list(json.loads(r.text))
    assert keys == [str(int(T0 + 10 * i)) for i in range(13)]
    assert r.json[keys[1]] == {
        "memory": {"used": 0.000977, "limit": 0.0625},
        "cpu": {"usage_percent": 1.0, "limit": 50.0},
        "net": {"up": 2.0, "down": 4.0, "delta_up": 1.0, "delta_down": 0.0},
        "pids": 0,
        "oom_kills": 0,
    }


def test_since_is_exclusive_keeping_the_samples_after_it(client):
    """A panel polling with its last key must not get that key twice (as the original)."""
    r = client.simulate_get("/v1/container/stats", params={"id": SITE, "since": str(int(T0 + 100))})
    assert list(r.json) == [str(int(T0 + 110)), str(int(T0 + 120))]
    last = list(r.json)[-1]
    assert client.simulate_get("/v1/container/stats", params={"id": SITE, "since": last}).json == {}


@pytest.mark.parametrize("scale", ["instant", "hour", "4hours"])
def test_scales_instant_hour_and_4hours_answer_every_sample(client, scale):
    r = client.simulate_get("/v1/container/stats", params={"id": SITE, "since": "0", "scale": scale})
    assert r.status_code == 200
    assert list(r.json) == [str(int(T0 + 10 * i)) for i in range(13)]


def test_an_unknown_scale_is_a_400_naming_the_accepted_ones(client):
    r = client.simulate_get("/v1/container/stats", params={"id": SITE, "scale": "month"})
    assert r.status_code == 400
    for accepted in ("instant", "hour", "4hours", "day", "week"):
        assert accepted in r.text


def test_an_unlimited_cpu_limit_is_the_hosts_cores_times_100_never_null(tmp_path, engine):
    s = StatsStore(str(tmp_path / "unlimited.sqlite3"))
    unlimited = Sample(T0, 1.0, None, 2**20, 2**26, 0, 0, 0, 0)
    s.record_round(T0, [(Reading(SITE, T0, True), unlimited)], host_cpus=2)
    client = testing.TestClient(create_app(Config(), engine=engine, store=s))
    r = client.simulate_get("/v1/container/stats", params={"id": SITE, "since": "0"})
    assert r.json[str(int(T0))]["cpu"]["limit"] == 200.0
    s.close()


def test_scale_day_answers_the_2_minute_points_then_the_samples_not_rolled_up_yet(client):
    r = client.simulate_get("/v1/container/stats", params={"id": SITE, "since": "0", "scale": "day"})
    assert r.status_code == 200
    assert list(r.json) == [str(int(T0)), str(int(T0 + 120))]
    assert r.json[str(int(T0))]["cpu"]["usage_percent"] == 5.5  # mean of 0..11
    assert r.json[str(int(T0))]["net"]["delta_up"] == 12.0  # 12 × 1 KiB


def test_a_deleted_container_answers_by_full_id(client, engine):
    r = client.simulate_get("/v1/container/stats", params={"id": GONE, "since": "0"})
    assert r.status_code == 200 and len(r.json) == 13
    assert engine.containers.inspected == []


def test_a_deleted_container_is_a_404_by_prefix(client):
    r = client.simulate_get("/v1/container/stats", params={"id": GONE[:12], "since": "0"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/plain")


NOW = 1_700_003_333.75


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr("dockerlink.stats.history.time.time", lambda: NOW)


def add(engine, name: str, d: ContainerDetails) -> None:
    """Known to the fake engine by name and by id, as to the real one."""
    engine.containers.details[name] = engine.containers.details[d.id] = d


@pytest.mark.parametrize("state", ["created", "exited", "running"])
@pytest.mark.parametrize("scale", [None, "instant", "hour", "4hours", "day", "week"])
def test_a_site_without_samples_answers_one_sample_now_with_its_limits(client, engine, clock, state, scale):
    """Both panels crash on `{}` (docs/contract.md §3.0): a site created, or stopped, before its first round."""
    add(engine, "fresh", site(FRESH, state=state, memory=3 << 28, quota=150000))
    query = {"id": "fresh", "since": "0"} | ({"scale": scale} if scale else {})
    r = client.simulate_get("/v1/container/stats", params=query)
    assert r.status_code == 200
    assert r.json == {
        "1700003333": {
            "memory": {"used": 0.0, "limit": 0.75},
            "cpu": {"usage_percent": 0.0, "limit": 150.0},
            "net": {"up": 0.0, "down": 0.0, "delta_up": 0.0, "delta_down": 0.0},
            "pids": 0,
            "oom_kills": 0,
        }
    }


def test_a_site_without_limits_shows_the_hosts_memory_and_cores_as_sampled_ones_do(client, engine, clock, store):
    add(engine, "fresh", site(FRESH))
    store.record_round(T0, [], host_cpus=3)  # the collector saw 3 cores; the engine's info says 2
    r = client.simulate_get("/v1/container/stats", params={"id": "fresh", "since": "0"})
    point = r.json["1700003333"]
    assert (point["memory"]["limit"], point["cpu"]["limit"]) == (4.0, 300.0)
    client.simulate_get("/v1/container/stats", params={"id": "fresh", "since": "0"})
    assert engine.system.asked == 1  # the host's memory is asked once


def test_since_past_the_newest_sample_is_still_an_empty_object(client, clock):
    last = str(int(T0 + 120))
    r = client.simulate_get("/v1/container/stats", params={"id": SITE, "since": last})
    assert (r.status_code, r.json) == (200, {})


def test_since_without_any_sample_gets_the_stand_in_only_when_it_is_after_since(client, engine, clock):
    add(engine, "fresh", site(FRESH))
    before = client.simulate_get("/v1/container/stats", params={"id": "fresh", "since": "1700003332"})
    assert list(before.json) == ["1700003333"]
    assert client.simulate_get("/v1/container/stats", params={"id": "fresh", "since": "1700003333"}).json == {}


def test_a_scale_whose_tier_is_empty_gets_the_stand_in(tmp_path, engine, clock):
    """Samples only in the coarse tier (the collector was down for hours): `instant` holds none."""
    s = StatsStore(str(tmp_path / "coarse.sqlite3"))
    s.record_round(T0, [(Reading(FRESH, T0, True), sample(T0, 1.0))])
    s.maintain(T0 + 5 * 3600)  # rolled up, then the 4-hour tier pruned
    add(engine, "fresh", site(FRESH, memory=1 << 30))
    c = testing.TestClient(create_app(Config(), engine=engine, store=s))
    assert list(c.simulate_get("/v1/container/stats", params={"id": "fresh", "scale": "day"}).json) == [str(int(T0))]
    instant = c.simulate_get("/v1/container/stats", params={"id": "fresh", "scale": "instant"}).json
    assert list(instant) == ["1700003333"] and instant["1700003333"]["memory"]["limit"] == 1.0
    s.close()


def test_a_container_dockerlink_did_not_create_has_no_stand_in(client, engine, clock):
    """It is never sampled: a made-up zero would be false for a running database."""
    add(engine, "fresh", site(FRESH, state="running", labels={}))
    r = client.simulate_get("/v1/container/stats", params={"id": "fresh", "since": "0"})
    assert (r.status_code, r.json) == (200, {})


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"id": "site", "since": "last-week"}, "since"),
        ({"id": "site", "since": "-5"}, "since"),
        ({"id": "site", "scale": "month"}, "scale"),
        ({"id": "../containers/x"}, "id"),
        ({"since": "0"}, "id"),
    ],
)
def test_malformed_input_is_a_400_naming_the_field(client, query, field):
    r = client.simulate_get("/v1/container/stats", params=query)
    assert r.status_code == 400
    assert r.text.startswith(f"{field}: ")


def test_an_unreachable_engine_is_a_503_when_a_name_must_be_resolved(client, engine):
    def down(ref):
        raise EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")

    engine.containers.inspect = down
    assert client.simulate_get("/v1/container/stats", params={"id": "site"}).status_code == 503


def test_the_token_is_required(engine, store):
    client = testing.TestClient(create_app(Config(api_token=TOKEN), engine=engine, store=store))
    assert client.simulate_get("/v1/container/stats", params={"id": SITE}).status_code == 401
    ok = client.simulate_get("/v1/container/stats", params={"id": SITE}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_openapi_declares_every_status_and_the_sample_schema():
    doc = document()
    get = doc["paths"]["/v1/container/stats"]["get"]
    assert set(get["responses"]) == {"200", "400", "401", "404", "503"}
    assert {p["name"] for p in get["parameters"]} == {"id", "since", "scale"}
    history = doc["components"]["schemas"]["StatsHistory"]
    assert history["additionalProperties"] == {"$ref": "#/components/schemas/StatsSample"}
    assert set(doc["components"]["schemas"]["StatsSample"]["required"]) == {"memory", "cpu", "net"}
