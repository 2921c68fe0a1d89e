"""A host port as the settings name one (`host_allow_ports`, `outgoing_deny_ports`): below both
the configuration, which reads them, and the firewall rules, which use them."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["HostPort", "parse_port_list"]

_PORT = re.compile(r"([1-9][0-9]{0,4})(?:/(tcp|udp))?")


@dataclass(frozen=True, order=True)
class HostPort:
    port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


def parse_port_list(raw: str) -> tuple[HostPort, ...]:
    """`"3306, 53/udp, 25/tcp"` (a bare number is tcp); ValueError names the bad item."""
    ports = set()
    for item in (i.strip() for i in raw.split(",")):
        m = _PORT.fullmatch(item)
        if not item:
            continue
        if not m or not 1 <= int(m[1]) <= 65535:
            raise ValueError(f"expected a comma-separated list of <port>[/tcp|/udp], got {item[:40]!r}")
        ports.add(HostPort(int(m[1]), m[2] or "tcp"))
    return tuple(sorted(ports))
