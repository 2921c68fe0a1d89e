"""The collaborators resources are built from: one engine, one stats store, the config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Config
from .engine import Engine

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    config: Config
    engine: Engine
    store: Any  # dockerlink.stats.store.StatsStore, or a test double with the same methods

    @classmethod
    def build(cls, config: Config, *, engine: Engine | None = None, store: Any = None) -> Services:
        if engine is None:
            engine = Engine(config.docker_sock)
        if store is None:
            from .stats.store import StatsStore

            store = StatsStore(config.stats_db)
        return cls(config=config, engine=engine, store=store)
