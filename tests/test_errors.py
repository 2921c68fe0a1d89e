"""The service's error tree: no statuses in it, one translation from the engine's, one
status each in resources/errors.py, and the tree its docstring draws."""

from __future__ import annotations

import inspect

import pytest

from dockerlink import errors
from dockerlink.engine import (
    AmbiguousReference,
    BadRequest,
    Conflict,
    EngineTimeout,
    EngineUnavailable,
    ExecStalled,
    FrameError,
    InvalidReference,
    NotFound,
    ServerError,
)
from dockerlink.errors import (
    Conflicting,
    DockerlinkError,
    EngineDown,
    EngineFault,
    InvalidInput,
    NoSuchContainer,
    from_engine,
)
from dockerlink.resources.errors import STATUS, status_of

SERVICE_ERRORS = [
    obj
    for obj in vars(errors).values()
    if inspect.isclass(obj) and issubclass(obj, DockerlinkError) and obj is not DockerlinkError
]


@pytest.mark.parametrize("cls", SERVICE_ERRORS, ids=lambda c: c.__name__)
def test_service_errors_carry_no_http_status(cls):
    assert not any(hasattr(cls, name) for name in ("status", "status_code", "http_status"))


@pytest.mark.parametrize("cls", SERVICE_ERRORS, ids=lambda c: c.__name__)
def test_every_service_error_has_exactly_one_status_in_the_handler(cls):
    assert cls in STATUS


@pytest.mark.parametrize("cls", [*SERVICE_ERRORS, errors.ConfigError], ids=lambda c: c.__name__)
def test_the_docstring_draws_every_error(cls):
    assert cls.__name__ in errors.__doc__
    assert cls.__name__ in errors.__all__


def test_no_service_error_shares_a_name_with_an_engine_error():
    from dockerlink import engine

    engine_names = {name for name in engine.__all__ if inspect.isclass(getattr(engine, name))}
    assert not engine_names & {cls.__name__ for cls in SERVICE_ERRORS}


@pytest.mark.parametrize(
    ("engine_error", "service_error", "status"),
    [
        (InvalidReference("invalid container id or name: 'a/b'"), InvalidInput, 400),
        (BadRequest(400, "bad parameter"), InvalidInput, 400),
        (AmbiguousReference(500, "Multiple IDs found with provided prefix: ab"), InvalidInput, 400),
        (NotFound(404, "No such container: x"), NoSuchContainer, 404),
        (Conflict(409, "name in use"), Conflicting, 409),
        (ServerError(500, "boom"), EngineFault, 502),
        (FrameError("truncated frame header at byte 0"), EngineFault, 502),
        (EngineUnavailable("unreachable"), EngineDown, 503),
        (EngineTimeout("did not answer in time"), EngineDown, 503),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_one_translation_from_the_engines_tree(engine_error, service_error, status):
    translated = from_engine(engine_error)
    assert type(translated) is service_error
    assert status_of(translated) == status


def test_a_field_names_the_input_an_engine_refusal_is_about():
    assert str(from_engine(InvalidReference("invalid image reference: 'X'"), field="image")) == (
        "image: invalid image reference: 'X'"
    )
    missing = from_engine(NotFound(404, "No such image: nope:1"), field="image")
    assert isinstance(missing, InvalidInput) and missing.field == "image"


def test_a_corrupt_stream_and_a_stalled_exec_are_engine_errors():
    from dockerlink.engine import EngineError

    assert issubclass(FrameError, EngineError)
    assert issubclass(ExecStalled, EngineTimeout)
