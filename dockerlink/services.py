"""The collaborators resources are built from: one engine, one stats store, the config, the
scoped tokens' issuer, and the worker's slots for long requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import timings
from .config import Config
from .engine import Engine
from .metrics import ServiceMetrics, engine_operation
from .slots import Slots, default_size
from .tokens import ScopedTokens

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    config: Config
    engine: Engine
    store: Any  # dockerlink.stats.store.StatsStore, or a test double with the same methods
    tokens: ScopedTokens | None = None  # None while api_token is unset
    metrics: ServiceMetrics | None = None
    journal: Any = None  # dockerlink.events.journal.Journal (read here; the collector writes it)
    slots: Slots = field(default_factory=lambda: Slots(default_size()))  # event waits and git, together

    @classmethod
    def build(
        cls, config: Config, *, engine: Engine | None = None, store: Any = None, tokens: ScopedTokens | None = None
    ) -> Services:
        if engine is None:
            engine = config.engine()
        if store is None:
            from .stats.store import StatsStore

            store = StatsStore(config.stats_db)
        if tokens is None and config.api_token:
            tokens = ScopedTokens.for_config(config)
        metrics = ServiceMetrics(store, engine)
        transport = getattr(engine, "transport", None)  # a test double may have none
        if transport is not None:
            transport.observer = timings.observing(metrics.observe_engine_call, engine_operation)
            transport.stream_observer = timings.observing(None, engine_operation)
        from .events.journal import Journal

        journal = Journal(config.events_path)
        return cls(config=config, engine=engine, store=store, tokens=tokens, metrics=metrics, journal=journal)
