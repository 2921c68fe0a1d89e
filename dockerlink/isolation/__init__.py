"""dockerlink.isolation — tenants of one host cannot reach or hurt each other (docs/contract.md §7.1).

network.py   the site network: made and owned by dockerlink, inter-container traffic off
rules.py     the firewall rules of a site network, as plain values (pure)
firewall.py  iptables as argv: install, check, remove our chains and their jumps
keeper.py    the collector's job keeping both in place, and the start's check
"""

from .firewall import FirewallError, Iptables
from .network import ICC_OFF, check_site_network, ensure_site_network, is_isolated
from .rules import HostPort, Plan, chain_names, parse_port_list, plan

__all__ = [
    "ensure_site_network",
    "check_site_network",
    "is_isolated",
    "ICC_OFF",
    "HostPort",
    "Plan",
    "plan",
    "chain_names",
    "parse_port_list",
    "Iptables",
    "FirewallError",
]
