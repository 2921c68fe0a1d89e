"""Which processes a credential change ends, from a `ps` snapshot (the endpoint's side is in
tests/resources/test_access_resource.py)."""

from __future__ import annotations

from dockerlink.access.sessions import parse_ps, session_pids

# A site's processes as `ps -eo pid=,ppid=,args=` prints them in the base image, with an SSH
# session running a command, a terminal login, the site's commands and a detached job.
PS = """\
    1     0 sshd: /usr/sbin/sshd -D -e [listener] 0 of 10-100 startups
    7     1 /bin/sh -c ( [ -f /var/www/starter.sh ] && sh /var/www/starter.sh; sh -c 'sleep infinity'; ) & exec "$@"
    8     7 sleep infinity
    9     1 /bin/sh /usr/local/bin/dockerlink-keepalive
   10     9 /usr/bin/shellinaboxd --disable-ssl --no-beep --port=4200 --service=/:LOGIN
   11    10 /usr/bin/shellinaboxd --disable-ssl --no-beep --port=4200 --service=/:LOGIN
   20    11 login -p -h 172.17.0.1
   21    20 -bash
   22    21 vim index.html
   30     1 sshd: admin [priv]
   31    30 sshd: admin@notty
   32    31 sleep 600
   40     1 node server.js
   50     1 sshd: [accepted]
   60     1 sshd-imposter: not a session
  garbage line
   70     9 /sbin/login-helper
"""


def test_the_ssh_connections_and_terminal_logins_end_with_everything_below_them():
    assert sorted(session_pids(parse_ps(PS))) == [20, 21, 22, 30, 31, 32, 50]


def test_the_keepalive_the_site_commands_and_detached_jobs_stay():
    kept = {p.pid for p in parse_ps(PS)} - set(session_pids(parse_ps(PS)))
    assert kept == {1, 7, 8, 9, 10, 11, 40, 60, 70}


def test_nothing_to_end_when_nobody_is_logged_in():
    assert session_pids(parse_ps(PS.split("   20")[0])) == []
