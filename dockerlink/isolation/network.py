"""The site network: one bridge network dockerlink makes and owns, on which containers
cannot open connections to each other (inter-container communication off).

Made at start (and again at a create that finds it gone), with the label `dockerlink`; a
network of that name that dockerlink did not make, or that lets containers talk, is never
used: `SiteNetworkUnfit`, one line naming `site_network`.
"""

from __future__ import annotations

from typing import Protocol

from .. import __version__
from ..engine import Conflict, ContainerDetails, NetworkInfo, NotFound
from ..errors import SiteNetworkUnfit
from ..ownership import LABEL

__all__ = ["ICC_OFF", "ROLE_LABEL", "ensure_site_network", "check_site_network", "is_isolated"]

ICC = "com.docker.network.bridge.enable_icc"
ICC_OFF = {ICC: "false"}
ROLE_LABEL = "dockerlink.role"


class NetworkCalls(Protocol):
    def inspect(self, ref: str) -> NetworkInfo: ...

    def create(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        subnet: str | None = None,
    ) -> str: ...


def check_site_network(info: NetworkInfo, name: str, subnet: str | None = None) -> NetworkInfo:
    """`info` if dockerlink may put sites on it; else SiteNetworkUnfit saying why and what to do."""
    if info.name != name:
        raise SiteNetworkUnfit(
            f"site_network: {name!r} names network {info.name!r} (an id prefix); choose another name"
        )
    if LABEL not in info.labels:
        raise SiteNetworkUnfit(
            f"site_network: network {name} exists but dockerlink did not make it (no {LABEL} label); "
            "remove it or set another site_network"
        )
    if info.driver != "bridge":
        raise SiteNetworkUnfit(f"site_network: network {name} is a {info.driver} network, not a bridge")
    if info.icc:
        raise SiteNetworkUnfit(
            f"site_network: network {name} lets its containers reach each other ({ICC} is not false); "
            "remove it (its containers first) or set another site_network"
        )
    if subnet and subnet not in info.subnets:
        raise SiteNetworkUnfit(
            f"site_network: network {name} has subnet {', '.join(info.subnets) or 'none'}, not site_subnet {subnet}"
        )
    return info


def ensure_site_network(networks: NetworkCalls, name: str, subnet: str | None = None) -> NetworkInfo:
    """The site network, made if missing (idempotent; two processes racing make one)."""
    try:
        info = networks.inspect(name)
    except NotFound:
        try:
            networks.create(name, labels={LABEL: __version__, ROLE_LABEL: "sites"}, options=ICC_OFF, subnet=subnet)
        except Conflict:
            pass  # another process made it between our inspect and create
        info = networks.inspect(name)
    return check_site_network(info, name, subnet)


def is_isolated(c: ContainerDetails, site_network: str) -> bool:
    """On the site network and on no other (the default bridge lets sites reach each other)."""
    return c.networks == (site_network,)
