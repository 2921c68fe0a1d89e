"""The worker's slots for long requests: a cap for all, a smaller one per key, never a queue."""

from __future__ import annotations

import pytest

from dockerlink.errors import Busy
from dockerlink.slots import Slots, default_size


def test_past_the_size_a_holder_is_refused_at_once_and_a_freed_slot_serves_again():
    slots = Slots(2)
    with slots.hold("a"), slots.hold("b"):
        with pytest.raises(Busy, match=r"^too many long requests in this worker \(2\); retry c after 1 s$"):
            with slots.hold("c"):
                pass
        assert slots.used == 2
    assert slots.used == 0
    with slots.hold("c"):
        assert slots.used == 1


def test_a_key_has_its_own_smaller_cap_and_leaves_the_rest_to_others():
    slots = Slots(4)
    with slots.hold("git on a", key="a", per_key=2), slots.hold("git on a", key="a", per_key=2):
        with pytest.raises(Busy, match=r"^git on a: 2 already running for it in this worker"):
            with slots.hold("git on a", key="a", per_key=2):
                pass
        with slots.hold("git on b", key="b", per_key=2), slots.hold("a wait"):
            assert slots.used == 4
    with slots.hold("git on a", key="a", per_key=2), slots.hold("git on a", key="a", per_key=2):
        pass  # both of a's freed when their blocks ended


def test_a_holder_that_raises_gives_its_slot_back():
    slots = Slots(1)
    with pytest.raises(RuntimeError), slots.hold("x", key="k", per_key=1):
        raise RuntimeError("boom")
    with slots.hold("x", key="k", per_key=1):
        assert slots.used == 1


def test_the_default_keeps_four_threads_for_the_rest(monkeypatch):
    monkeypatch.setenv("DOCKERLINK_THREADS", "8")
    assert default_size() == 4
    monkeypatch.setenv("DOCKERLINK_THREADS", "3")
    assert default_size() == 1
