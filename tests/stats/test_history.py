import pytest

from dockerlink.errors import InvalidInput, NoSuchContainer
from dockerlink.stats.history import parse_scale, parse_since, resolve, stand_in
from dockerlink.stats.samples import Reading, Sample
from dockerlink.stats.store import StatsStore

from .trees import FakeContainers, details, point

LIVE = "1" * 64
DELETED = "2" * 64


@pytest.fixture
def store(tmp_path):
    s = StatsStore(str(tmp_path / "stats.sqlite3"))
    s.record_round(100.0, [(Reading(DELETED, 100.0, True), point(100.0))])
    yield s
    s.close()


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 0.0), ("", 0.0), ("0", 0.0), ("1700000000", 1.7e9), ("12.5", 12.5)]
)
def test_since_is_unix_seconds_defaulting_to_all(raw, expected):
    assert parse_since(raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", "-1", "nan", "inf", "1e999"])
def test_a_bad_since_is_refused_naming_the_field(raw):
    with pytest.raises(InvalidInput, match="^since: "):
        parse_since(raw)


def test_scale_is_one_of_the_three_tiers_or_absent():
    assert [parse_scale(s) for s in (None, "instant", "day", "week")] == [None, "instant", "day", "week"]
    with pytest.raises(InvalidInput, match="^scale: "):
        parse_scale("month")


def test_a_name_resolves_through_the_engine_to_the_full_id(store):
    fake = FakeContainers()
    fake.details["site"] = details(LIVE, 7)
    assert resolve(fake, store, "site") == LIVE


def test_a_deleted_container_answers_by_full_id_without_asking_the_engine(store):
    fake = FakeContainers()
    assert resolve(fake, store, DELETED) == DELETED
    assert fake.inspected == []


def test_a_deleted_container_is_not_found_by_prefix_or_name(store):
    with pytest.raises(NoSuchContainer):
        resolve(FakeContainers(), store, DELETED[:12])


def test_an_unknown_full_id_without_history_is_not_found(store):
    with pytest.raises(NoSuchContainer):
        resolve(FakeContainers(), store, "3" * 64)


def test_the_stand_in_reads_limits_as_the_sampler_does():
    """NanoCpus (docker run --cpus) is a quota over 100 ms; no memory limit shows the host's."""
    d = details(LIVE, 7, running=False, nano_cpus=1_500_000_000)
    assert stand_in(d, 100.0, 8 << 30) == Sample(100.0, 0.0, 150.0, 0, 8 << 30, 0, 0, 0, 0)
    assert stand_in(details(LIVE, 7, running=False), 100.0, 8 << 30).cpu_limit is None  # the host's cores, later
