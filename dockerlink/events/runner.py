"""The events side of the background process: the follower (the one reader of the engine's
events: → the journal, and to the consumers it is given), the cgroup OOM counter (where
cgroups are readable here), the relay of events the workers handed off (backups) and, with
`webhook_url` set, the webhook sender, each a job of its own (`dockerlink.collector` runs
each in its own thread) so none ever delays a sampling round."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..cgroups import readable_here
from ..config import Config
from ..engine import Engine
from ..jobs import Job
from .follower import Consumer, Follower, Translator
from .journal import Journal
from .oom import OomCounter, OomWatch
from .webhooks import Sender

__all__ = ["event_jobs", "relay_handoffs"]

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


def event_jobs(
    config: Config, engines: Callable[[], Engine], journal: Journal, consumers: Sequence[Consumer] = ()
) -> list[Job]:
    """The follower (handing the engine's events to the journal, the OOM counter and
    `consumers`), the OOM counter where cgroups are readable here, the relay of hand-offs
    and, with `webhook_url` set, the webhook sender. `engines` makes each job's engine
    (never the sampler's connections); `journal` is the one the collector writes."""
    engine = engines()
    window = max(2.0, min(config.stats_interval, 30.0))
    oom_job = None
    if readable_here(engine.address):
        oom_engine = engines()
        watch = OomWatch(oom_engine.containers)
        oom = OomCounter(watch.counts, journal, every=window, running=watch.running)
        consumers = [*consumers, oom]
        oom_job = Job("oom", oom.run, engine=oom_engine)
    follower = Follower(
        engine.system,
        Translator(journal, engine.containers),
        journal,
        consumers=consumers,
        window=window,
        keep_days=config.events_days,
    )
    jobs = [
        # At a stop it is waiting on the engine's stream (up to a window): nothing to finish,
        # what it had not journaled is read again from the cursor at the next start.
        Job("events", follower.run, engine=engine, left_at_exit=True),
        Job("handoff", lambda wait: relay_handoffs(journal, wait)),
    ]
    if oom_job is not None:
        jobs.append(oom_job)
    if config.webhook_url and config.webhook_secret:
        jobs.append(Job("webhooks", Sender(journal, config.webhook_url, config.webhook_secret).run))
        log.info("sending events to the webhook at %s", config.webhook_host)
    log.info("journaling events into %s", config.events_path)
    return jobs
