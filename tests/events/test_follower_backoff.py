"""The follower waits out an engine that is away with the one back-off: 2 s doubling to 60 s."""

from __future__ import annotations

from dockerlink.engine import EngineUnavailable
from dockerlink.events.follower import Follower, Translator
from dockerlink.events.journal import Journal
from tests.fakes import FakeEngine


class Away:
    def follow(self, since, until, filters=None):  # noqa: ANN001, ANN201
        raise EngineUnavailable("the Docker engine at /var/run/docker.sock is unreachable")


def test_the_follower_backs_off_while_the_engine_is_away(tmp_path):
    journal = Journal(str(tmp_path / "events.sqlite3"))
    follower = Follower(Away(), Translator(journal, FakeEngine().containers), journal)
    asked: list[float] = []

    def wait(seconds: float) -> bool:  # recorded, never slept
        asked.append(seconds)
        return len(asked) == 8

    follower.run(wait)
    assert asked == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
