"""Events: a durable journal of what happened to each site, and who hears about it.

journal.py     the SQLite journal (WAL): one writer (the collector process), every worker reads
follower.py    the one reader of the engine's event stream, handing each event to its consumers;
               the first turns them into journal events (who asked for a stop, crashes,
               restarts by policy), resumed from a stored cursor, de-duplicated
oom.py         the cgroup OOM counter, a job of its own, so a process killed inside a living
               container shows
waiting.py     long-polls: parked requests share one watcher per worker process
bell.py        how that watcher hears at once that the collector journaled (inotify)
webhooks.py    signed POSTs of every event, in order, from the journal as a durable outbox
logs.py        a container's recent output, demultiplexed and merged in time order
runner.py      the jobs (run by dockerlink.collector): the follower, the OOM counter, the relay
               of the workers' hand-offs (backups) and the webhook sender
hooks.py       the events other capabilities report (a backup ended, a disk quota crossed),
               built around the journal they are given
"""
