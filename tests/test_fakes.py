"""tests/fakes.py's engine is tied to the real Engine's surface: a fake that drifts fails here.

Every public method of a fake noun must exist on the real one with the same parameters
(names, kinds, defaults), so a test can never pass against a call the real engine would
refuse. Test helpers (putting a container in place, `docker rename` behind dockerlink's
back) are named in HELPERS and are not engine calls.
"""

from __future__ import annotations

import inspect

import pytest

from dockerlink.engine import Engine
from dockerlink.hosting import History
from tests.fakes import FakeEngine, FakeStore

NOUNS = ("containers", "volumes", "images", "execs", "system", "archives", "networks")
HELPERS = {"containers": {"add", "rename"}, "archives": {"text"}}


def public_methods(obj: object) -> dict[str, object]:
    """The methods its class defines (a test's handler set on an instance is not one)."""
    return {name: getattr(obj, name) for name, _ in inspect.getmembers(type(obj), inspect.isfunction) if name[0] != "_"}


def parameters(method: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


@pytest.mark.parametrize("noun", NOUNS)
def test_every_fake_engine_call_exists_on_the_real_engine_with_the_same_parameters(noun):
    real = getattr(Engine("/nonexistent.sock"), noun)
    fake = getattr(FakeEngine(), noun)
    real_methods = public_methods(real)
    for name, method in public_methods(fake).items():
        if name in HELPERS.get(noun, ()):
            continue
        assert name in real_methods, f"FakeEngine.{noun}.{name} is not an engine call"
        assert parameters(method) == parameters(real_methods[name]), f"FakeEngine.{noun}.{name} drifted"


def test_the_fake_engine_has_the_real_engines_nouns_and_attributes():
    real, fake = Engine("/nonexistent.sock"), FakeEngine()
    for name in (*NOUNS, "address", "close"):
        assert hasattr(real, name) and hasattr(fake, name), name


def test_the_fake_store_is_a_history_as_hosting_needs_it():
    for name in ("forget",):
        assert name in History.__dict__
        assert parameters(getattr(FakeStore(), name)) == parameters(getattr(History, name))[1:]


def test_a_drifted_fake_is_caught():
    class Drifted:
        def inspect(self, ref: str, size: bool = False) -> None: ...

    real = public_methods(Engine("/nonexistent.sock").containers)
    assert parameters(Drifted().inspect) != parameters(real["inspect"])
