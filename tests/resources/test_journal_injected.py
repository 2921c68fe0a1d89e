"""The worker's one events journal (`Services.journal`) is what the hosting operations note
their stops in and what a backup's end is handed off through: read back from the journal
file itself, as the collector would."""

from __future__ import annotations

from dockerlink.events.journal import Journal


def test_a_stop_through_the_service_is_noted_in_the_events_file(client, config, fake_engine):
    c = fake_engine.containers.add("site1", labels={"dockerlink": "0.1.0"})
    assert client.simulate_post("/v1/container/stop", params={"id": c.id}).status_code == 204
    collector = Journal(config.events_path)
    assert collector.requested(c.id, after=0) == "stop"
    assert collector.requested("f" * 64, after=0) is None


def test_a_stop_is_not_failed_by_a_journal_that_cannot_be_written(client, config, fake_engine, tmp_path, caplog):
    c = fake_engine.containers.add("site1", labels={"dockerlink": "0.1.0"})
    Journal(config.events_path)._db.execute("DROP TABLE handoff")  # the journal refuses the note
    assert client.simulate_post("/v1/container/stop", params={"id": c.id}).status_code == 204
    assert "could not note the stop" in caplog.text


def test_the_workers_stats_store_hands_off_through_the_workers_journal(config):
    from dockerlink.services import Services
    from tests.fakes import FakeEngine

    services = Services.build(config, engine=FakeEngine())
    assert services.store.handoff is services.journal
