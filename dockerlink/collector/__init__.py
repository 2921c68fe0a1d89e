"""dockerlink.collector — the background process: one per service, beside the HTTP workers.

process.py      builds it: the lock (one collector per stats database), the stop flag
                (SIGTERM, SIGINT, the gunicorn master gone), the engine factory every job's
                engine comes from (honouring `tls`), the jobs, and runs them until stopped
                (`dockerlink collect`, `python -m dockerlink.collector`)
supervision.py  each job in its own thread: a job that dies is logged, reported and
                restarted with the one back-off (`dockerlink.jobs.backoff`)
status.py       the jobs' states in a file beside the stats database, for /v1/health
supervisor.py   in gunicorn's master: keeps one collector process running (restarts it)

The jobs live in their capabilities' packages (stats.runner, events.runner, backups.disk,
backups.restore, isolation.keeper), shaped as `dockerlink.jobs.Job`. This file imports
nothing, so the health endpoint can read status.py without loading the jobs.
"""
