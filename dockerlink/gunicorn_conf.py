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
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("DOCKERLINK_LOGLEVEL", "info")
# The token travels in a header; the default access log format prints none.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
