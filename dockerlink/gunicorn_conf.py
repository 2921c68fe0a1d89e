"""gunicorn settings for dockerlink (the repo's gunicorn.conf.py imports these).

Threaded workers: requests spend their time waiting on the engine socket, not on the CPU.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from dockerlink.config import Config, listen_addresses

_config = Config.from_env()

# prometheus-client's multiprocess mode (dockerlink/metrics.py): each worker writes its
# counters to files here and /metrics sums them. Set before any worker imports the client;
# emptied at each start (the counters restart from zero, as a restarted process's would).
_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_own_metrics_dir = not os.environ.get(_METRICS_ENV)


def _clear_metrics_files() -> None:
    """Only the client's files: the directory may be the operator's (systemd's RuntimeDirectory)."""
    for stale in Path(os.environ[_METRICS_ENV]).glob("*.db"):
        stale.unlink(missing_ok=True)


if _own_metrics_dir:
    os.environ[_METRICS_ENV] = tempfile.mkdtemp(prefix="dockerlink-metrics-")
else:
    Path(os.environ[_METRICS_ENV]).mkdir(parents=True, exist_ok=True, mode=0o700)
    _clear_metrics_files()

wsgi_app = "dockerlink.app:create_app()"
# Every address of `bind`; the default is both loopbacks, 127.0.0.1 alone on a host
# without IPv6 (said once below, and by `dockerlink check`).
bind = listen_addresses(_config)
if len(bind) < len(_config.binds):
    print("dockerlink: no IPv6 loopback on this host: listening on " + ", ".join(bind), file=sys.stderr)
# gthread, but a request is read whole by the event loop before a thread takes it: slow
# clients cannot hold the threads (dockerlink/serving/worker.py).
worker_class = "dockerlink.serving.worker.BufferingWorker"
logger_class = "dockerlink.serving.accesslog.RedactingLogger"
workers = int(os.environ.get("DOCKERLINK_WORKERS", "2"))
threads = int(os.environ.get("DOCKERLINK_THREADS", "8"))
# Long enough for a git command at its limit plus the kill grace.
timeout = int(_config.git_timeout) + 30
# Seconds in-flight requests get to finish on SIGTERM; git left running after that is killed
# by on_exit below (closing an exec's connection never stops it).
graceful_timeout = int(os.environ.get("DOCKERLINK_GRACEFUL_TIMEOUT", "30"))
# gunicorn 27's control socket defaults to one fixed path ($HOME/.gunicorn/gunicorn.ctl)
# that every instance on the host would share; dockerlink does not use it.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("DOCKERLINK_LOGLEVEL", "info")
# The token travels in a header, which this format never prints; one sent in the query
# string is redacted (logger_class above).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


# Exactly one collector (the background process) per service: a child of the master, not of a worker.
def when_ready(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    from dockerlink.collector.supervisor import start_collector
    from dockerlink.isolation.keeper import check_at_start

    check_at_start(_config)  # a site network we may not use stops the start: one line (RuntimeError)

    start_collector(server.log)


def child_exit(server, worker):  # noqa: ANN001, ANN201
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001, ANN201
    # After SIGTERM or SIGINT the workers are gone: nothing writes these files any more.
    if _own_metrics_dir:
        shutil.rmtree(os.environ[_METRICS_ENV], ignore_errors=True)
    else:
        _clear_metrics_files()
    from dockerlink.collector.supervisor import stop_collector
    from dockerlink.git import ExecMarks, stop_orphan_git_execs
    from dockerlink.statefiles import StateFiles

    stop_collector()
    marks = ExecMarks(StateFiles.of(_config).path("git_execs"))  # the containers an exec may be left in
    with _config.engine() as engine:
        stop_orphan_git_execs(engine, _config.instance, marks)  # this instance's, not another's
