# gunicorn configuration of dockerlink: `gunicorn -c gunicorn.conf.py` (or `dockerlink serve`).
from dockerlink.gunicorn_conf import *  # noqa: F401,F403
