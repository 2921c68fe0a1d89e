"""The firewall rules of one site network, as plain values: what `firewall.py` installs.

Two chains of dockerlink's own per site network, named after the network's id:

    INPUT       -i <bridge> -> DOCKERLINK-IN-<id12>    a site towards the host itself
    DOCKER-USER -i <bridge> -> DOCKERLINK-FWD-<id12>   a site towards anywhere else

The host: replies, DNS to the gateway, the sites' published ports (this engine's userland
proxy carries a site's connection to another site's published port through the host's
INPUT, not through a DNAT), and the operator's `host_allow_ports` go on (RETURN: the host's
own rules still decide); anything else new is refused. Elsewhere: replies go on;
link-local addresses (cloud metadata) and `outgoing_deny_ports` are refused.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..engine import NetworkInfo, PortBinding
from ..hostports import HostPort, parse_port_list

__all__ = ["HostPort", "Plan", "parse_port_list", "plan", "chain_names", "LINK_LOCAL", "MULTIPORT_MAX"]

_BRIDGE = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # a Linux interface name
LINK_LOCAL = "169.254.0.0/16"
#: Ports one `-m multiport --dports` takes.
MULTIPORT_MAX = 15
_ESTABLISHED = ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN")
_REFUSE = ("-j", "REJECT", "--reject-with", "icmp-admin-prohibited")
_RESET = ("-j", "REJECT", "--reject-with", "tcp-reset")


def chain_names(network_id: str) -> tuple[str, str]:
    """(input chain, forward chain) of a network; at most 28 characters, as iptables allows."""
    short = network_id[:12]
    if not re.fullmatch(r"[0-9a-f]{12}", short):
        raise ValueError(f"not a network id: {network_id[:20]!r}")
    return f"DOCKERLINK-IN-{short}", f"DOCKERLINK-FWD-{short}"


@dataclass(frozen=True)
class Plan:
    """Everything installed for one site network; `signature` marks the installed version."""

    bridge: str
    input_chain: str
    forward_chain: str
    input_rules: tuple[tuple[str, ...], ...]
    forward_rules: tuple[tuple[str, ...], ...]

    @property
    def signature(self) -> str:
        return hashlib.sha256(repr((self.input_rules, self.forward_rules)).encode()).hexdigest()[:16]

    @property
    def jumps(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(built-in or engine chain, rule) jumping to ours, for this bridge only."""
        return (
            ("INPUT", ("-i", self.bridge, "-j", self.input_chain)),
            ("DOCKER-USER", ("-i", self.bridge, "-j", self.forward_chain)),
        )

    def marker(self) -> tuple[str, ...]:
        """The first rule of each chain: no target, a comment saying whose and which version."""
        return ("-m", "comment", "--comment", f"dockerlink:{self.signature}")

    def restore_text(self) -> str:
        """Input for `iptables-restore --noflush`: declaring our two chains empties them and
        the rules below refill them, in one commit; no other chain is named."""
        lines = ["*filter", f":{self.input_chain} - [0:0]", f":{self.forward_chain} - [0:0]"]
        for chain, rules in ((self.input_chain, self.input_rules), (self.forward_chain, self.forward_rules)):
            lines += [" ".join(("-A", chain, *rule)) for rule in (self.marker(), *rules)]
        return "\n".join([*lines, "COMMIT", ""])


def _chunks(ports: Sequence[int]) -> list[str]:
    return [",".join(map(str, ports[i : i + MULTIPORT_MAX])) for i in range(0, len(ports), MULTIPORT_MAX)]


def _open_ports(ports: Iterable[tuple[str | None, HostPort]]) -> list[tuple[str, ...]]:
    """RETURN rules for (destination or None, port), grouped per destination and protocol."""
    groups: dict[tuple[str | None, str], set[int]] = {}
    for dest, p in ports:
        groups.setdefault((dest, p.protocol), set()).add(p.port)
    rules = []
    for (dest, proto), numbers in sorted(groups.items(), key=lambda g: (g[0][0] or "", g[0][1])):
        where = ("-d", f"{dest}/32") if dest else ()
        for chunk in _chunks(sorted(numbers)):
            rules.append((*where, "-p", proto, "-m", "multiport", "--dports", chunk, "-j", "RETURN"))
    return rules


def published_destinations(bindings: Iterable[PortBinding]) -> list[tuple[str | None, HostPort]]:
    """The sites' published ports another site may reach through the host: IPv4 or every
    address (None); a loopback binding (the web terminal) is out of a site's reach anyway."""
    out = []
    for b in bindings:
        ip = ipaddress.ip_address(b.host_ip or "0.0.0.0")
        if ip.is_loopback or b.protocol not in ("tcp", "udp") or not 0 < b.host_port < 65536:
            continue
        if ip.is_unspecified:
            out.append((None, HostPort(b.host_port, b.protocol)))
        elif ip.version == 4:
            out.append((str(ip), HostPort(b.host_port, b.protocol)))
    return out


def plan(
    network: NetworkInfo,
    *,
    published: Iterable[PortBinding] = (),
    host_allow: Sequence[HostPort] = (),
    outgoing_deny: Sequence[HostPort] = (),
) -> Plan:
    """The rules of `network` (a bridge network dockerlink checked), given the sites'
    published ports now and the operator's allow and deny lists."""
    if not _BRIDGE.fullmatch(network.bridge):
        raise ValueError(f"not a bridge name: {network.bridge[:20]!r}")
    input_chain, forward_chain = chain_names(network.id)
    dns = [
        (*("-d", f"{ipaddress.IPv4Address(gw)}/32"), "-p", proto, "--dport", "53", "-j", "RETURN")
        for gw in network.gateways
        if ":" not in gw
        for proto in ("udp", "tcp")
    ]
    to_host = [
        _ESTABLISHED,
        *dns,
        *_open_ports([*published_destinations(published), *((None, p) for p in host_allow)]),
        ("-p", "tcp", *_RESET),
        _REFUSE,
    ]
    denied = [
        (*("-p", proto), "-m", "multiport", "--dports", chunk, *(_RESET if proto == "tcp" else _REFUSE))
        for proto in ("tcp", "udp")
        for chunk in _chunks(sorted(p.port for p in outgoing_deny if p.protocol == proto))
    ]
    elsewhere = [_ESTABLISHED, ("-d", LINK_LOCAL, *_REFUSE), *denied]
    return Plan(network.bridge, input_chain, forward_chain, tuple(to_host), tuple(elsewhere))
