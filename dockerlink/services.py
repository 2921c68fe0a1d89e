"""The collaborators resources are built from: one engine, one stats store, one events
journal (injected into what reads or hands off to it), the config, the scoped tokens'
issuer, and the worker's slots for long requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import timings
from .config import Config
from .engine import Engine
from .events.journal import Journal
from .metrics import ServiceMetrics, engine_operation
from .slots import Slots, default_size
from .stats.store import StatsStore
from .tokens import ScopedTokens

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    config: Config
    engine: Engine
    store: Any  # dockerlink.stats.store.StatsStore, or a test double with the same methods
    tokens: ScopedTokens | None = None  # None while api_token is unset
    metrics: ServiceMetrics | None = None
    journal: Journal | None = None  # the events journal, one per worker: read here, the collector writes it
    slots: Slots = field(default_factory=lambda: Slots(default_size()))  # event waits and git, together

    @classmethod
    def build(
        cls, config: Config, *, engine: Engine | None = None, store: Any = None, tokens: ScopedTokens | None = None
    ) -> Services:
        if engine is None:
            engine = config.engine()
        journal = Journal(config.events_path)
        if store is None:
            store = StatsStore(config.stats_db, handoff=journal)  # what it cannot drop, the collector will
        if tokens is None and config.api_token:
            tokens = ScopedTokens.for_config(config)
        metrics = ServiceMetrics(store, engine)
        transport = getattr(engine, "transport", None)  # a test double may have none
        if transport is not None:
            transport.observer = timings.observing(metrics.observe_engine_call, engine_operation)
            transport.stream_observer = timings.observing(None, engine_operation)
        return cls(config=config, engine=engine, store=store, tokens=tokens, metrics=metrics, journal=journal)
