"""gunicorn settings for dockerlink (the repo's gunicorn.conf.py imports these).

gthread workers: requests spend their time waiting on the engine socket, not on the CPU.
"""

from __future__ import annotations

import os

from dockerlink.config import Config

_config = Config.from_env()

wsgi_app = "dockerlink.app:create_app()"
bind = [_config.bind]
worker_class = "gthread"
workers = int(os.environ.get("DOCKERLINK_WORKERS", "2"))
threads = int(os.environ.get("DOCKERLINK_THREADS", "8"))
# Long enough for a git command at its limit plus the kill grace.
timeout = int(_config.git_timeout) + 30
# Seconds in-flight requests get to finish on SIGTERM; git left running after that is killed
# by on_exit below (closing an exec's connection never stops it).
graceful_timeout = int(os.environ.get("DOCKERLINK_GRACEFUL_TIMEOUT", "30"))
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("DOCKERLINK_LOGLEVEL", "info")
# The token travels in a header; the default access log format prints none.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


# Exactly one stats collector per service: a child of the master, not of a worker.
def when_ready(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    from dockerlink.stats.supervisor import start_collector

    start_collector(server.log)


def on_exit(server):  # noqa: ANN001, ANN201
    from dockerlink.engine import Engine
    from dockerlink.git import stop_orphan_git_execs
    from dockerlink.stats.supervisor import stop_collector

    stop_collector()
    with Engine(_config.docker_sock) as engine:
        stop_orphan_git_execs(engine)
