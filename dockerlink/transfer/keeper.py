"""The transfer keeper, a job of the collector: no transfer is forgotten.

On the sending side it finishes or rolls back each transfer whose worker died mid-way
(`Sender.recover`); on the receiving side it removes what a transfer made that was not
committed by its token's expiry (`Receiver.expire`). Every `INTERVAL` seconds, and at start.
"""

from __future__ import annotations

import logging
import time

from ..backups.disk import Quotas
from ..config import Config
from ..engine import Engine, EngineError
from ..events.journal import Journal
from ..hosting import Hosting
from ..jobs import Job, Wait
from ..stats.store import StatsStore
from .receiver import Receiver
from .sender import Sender

__all__ = ["keeper_job", "INTERVAL"]

log = logging.getLogger("dockerlink.transfer")

INTERVAL = 5.0


def keeper_job(config: Config, engine: Engine, journal: Journal) -> Job:
    """The keeper, with a hosting of its own that takes no final backup before a removal;
    `journal` the collector's (the transfers' events)."""
    hosting = Hosting(engine, config, StatsStore(config.stats_db), quotas=Quotas(config, journal), journal=journal)
    sender, receiver = Sender(engine, config, hosting), Receiver(engine, config, hosting)

    def run(wait: Wait) -> None:
        while True:
            try:
                for name in sender.recover():
                    log.warning("transfer of %s had lost its worker: ended by the keeper", name)
                receiver.expire(time.time())
            except (EngineError, OSError) as exc:
                log.warning("transfer keeper: %s (tried again in %g s)", exc, INTERVAL)
            if wait(INTERVAL):
                return

    return Job("transfers", run, engine=engine)
