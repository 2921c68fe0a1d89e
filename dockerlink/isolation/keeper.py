"""The background process's job that keeps the site network and its firewall rules in place.

At its start and every `CHECK_EVERY` seconds: the site network (made again if it went), the
rules it needs now (the running sites' published ports change them), and whether they are
installed whole; if not, they are installed again. That covers a host whose rules were
flushed (a reboot, `iptables -F`, a firewall reload), a site started since the last check,
and a dockerd restart (dockerd re-creates DOCKER-USER's jump from FORWARD and leaves the
rules inside it, and our chains, as they were; the check finds them whole).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..config import Config
from ..engine import Engine, EngineError, socket_path
from ..errors import SiteNetworkUnfit
from ..jobs import Job
from ..stats.collector import ContainerChanges, Listing
from .firewall import FirewallError, Iptables
from .network import ensure_site_network
from .rules import Plan, plan

__all__ = ["Keeper", "keeper_job", "check_at_start", "CHECK_EVERY"]

log = logging.getLogger("dockerlink.isolation")

#: Seconds between two checks.
CHECK_EVERY = 10.0


#: The states in which a container's ports are published (what a listing without `all` shows).
PUBLISHING = frozenset({"running", "paused", "restarting"})


class Keeper:
    """With `changes` (what the collector's event follower saw), the sites' list is kept as
    the stats rounds keep theirs (`stats.collector.Listing`): the whole list once a minute,
    and in between only the containers that started, stopped or went are asked for again.
    Listing every dockerlink container at each check cost the engine ~70 ms of CPU at 1000
    sites, six times a minute (docs/benchmarks.md, "The background's engine calls")."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        firewall: Iptables | None = None,
        changes: ContainerChanges | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._firewall = firewall if firewall is not None else Iptables()
        self._sites = Listing(engine.containers, changes)
        self._said = ""

    def current_plan(self) -> Plan:
        network = ensure_site_network(self._engine.networks, self._config.site_network, self._config.site_subnet)
        running = [c for c in self._sites.current() if c.state in PUBLISHING]
        return plan(
            network,
            published=[b for c in running for b in c.published],
            host_allow=self._config.host_allow_ports,
            outgoing_deny=self._config.outgoing_deny_ports,
        )

    def check_once(self) -> bool:
        """Install the rules if they are not whole; True when it did."""
        wanted = self.current_plan()
        if self._firewall.installed(wanted):
            return False
        self._firewall.install(wanted)
        log.info(
            "site firewall installed for %s (%s, version %s)",
            self._config.site_network,
            wanted.bridge,
            wanted.signature,
        )
        return True

    def run(self, wait: Callable[[float], bool]) -> None:
        """Check until `wait` reports a stop; a failure is logged once until it changes."""
        while True:
            try:
                self.check_once()
                self._said = ""
            except (EngineError, FirewallError, SiteNetworkUnfit, ValueError) as exc:
                if isinstance(exc, EngineError):
                    self._sites.invalidate()  # the engine may have restarted, its events with it
                if str(exc) != self._said:
                    log.error("site isolation not in place: %s", exc)
                    self._said = str(exc)
            except Exception:  # noqa: BLE001 - a bug must not end the job silently
                log.exception("site isolation check failed")
            if wait(CHECK_EVERY):
                return


def keeper_job(config: Config, engine: Engine, changes: ContainerChanges | None = None) -> Job | None:
    """The keeper as a job of the background process; None when `site_firewall` is off or
    the engine is on another host (its rules belong on that host: said once in the log).
    `changes`: the follower's, so the sites are not listed whole at every check."""
    if not config.site_firewall:
        return None
    if socket_path(config.docker_sock) is None:
        log.warning(
            "site firewall not installed: the engine (%s) is not on this host; install dockerlink's rules there",
            config.docker_sock,
        )
        return None
    return Job("firewall", Keeper(engine, config, changes=changes).run, engine=engine)


def check_at_start(config: Config) -> None:
    """The service's start: the site network made, or the reason it cannot be used as one
    line (a RuntimeError, which gunicorn prints as `Error: …` before exiting). An engine
    that does not answer yet is not a reason to refuse: the first create checks again."""
    engine = config.engine()
    try:
        ensure_site_network(engine.networks, config.site_network, config.site_subnet)
    except SiteNetworkUnfit as exc:
        raise RuntimeError(str(exc)) from None
    except EngineError as exc:
        log.warning("site network not checked at start (%s); the first create will", exc)
    finally:
        engine.close()
