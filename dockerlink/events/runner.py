"""The events side of the collector process: the follower (engine events and cgroup OOM
counters → journal), the relay of events the workers handed off (backups) and, with
`webhook_url` set, the webhook sender, each in its own daemon thread so none ever delays
a sampling round."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..config import Config
from ..engine import Engine
from .follower import Follower, Translator
from .journal import Journal
from .oom import OomWatch
from .webhooks import Sender

__all__ = ["start_event_threads", "relay_handoffs"]

log = logging.getLogger("dockerlink.events")


#: Seconds between two looks at the events the workers handed off (one indexed read).
HANDOFF_EVERY = 1.0
HANDOFF_BATCH = 100


def relay_handoffs(journal: Journal, stopped: Callable[[float], bool], every: float = HANDOFF_EVERY) -> None:
    """Journal what the workers handed off (a backup's end), oldest first, until stopped."""
    while True:
        try:
            for _ in range(10):  # a backlog is worked off batch by batch, a bounded number a turn
                if len(journal.take_handoffs(HANDOFF_BATCH)) < HANDOFF_BATCH:
                    break
        except Exception:  # noqa: BLE001 - the relay must outlive any one failure; rows wait in the file
            log.warning("could not journal the events handed off by the workers", exc_info=True)
        if stopped(every):
            return


def start_event_threads(config: Config, stopped: Callable[[float], bool], *, cgroups: bool = True) -> Journal:
    """Start the threads; they end when `stopped(seconds)` (a wait) returns True."""
    journal = Journal(config.events_path)
    engine = Engine(config.docker_sock, tls=config.tls)  # its own connections, never the sampler's
    oom = OomWatch(engine.containers) if cgroups else None
    follower = Follower(
        engine.system,
        Translator(journal, engine.containers),
        journal,
        oom_counts=oom.counts if oom else None,
        window=max(2.0, min(config.stats_interval, 30.0)),
        keep_days=config.events_days,
    )
    threading.Thread(target=follower.run, args=(stopped,), name="dockerlink-events", daemon=True).start()
    threading.Thread(target=relay_handoffs, args=(journal, stopped), name="dockerlink-handoff", daemon=True).start()
    if config.webhook_url and config.webhook_secret:
        sender = Sender(journal, config.webhook_url, config.webhook_secret)
        threading.Thread(target=sender.run, args=(stopped,), name="dockerlink-webhooks", daemon=True).start()
        log.info("sending events to the webhook at %s", config.webhook_host)
    log.info("journaling events into %s", config.events_path)
    return journal
