"""A container's port area: container port p is published on host port root + p.

Ports 22, 80 and 443/tcp are always forwarded; every container port is below
`port_area_size`, and the area [root, root + size - 1] must fit below 65536 and not
overlap another dockerlink container's area.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InvalidInput

__all__ = [
    "ALWAYS_FORWARDED",
    "MIN_ROOT",
    "ContainerPort",
    "parse_port",
    "parse_ports",
    "port_pattern",
    "check_root",
    "max_root",
    "overlaps",
    "free_areas",
]

_PORT = re.compile(r"([1-9][0-9]{0,4})(?:/(tcp|udp))?")
MIN_ROOT = 1024  # below, sites would take the host's privileged ports (its own ssh on 22…)
MAX_PORTS = 256


@dataclass(frozen=True, order=True)
class ContainerPort:
    port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


ALWAYS_FORWARDED = (ContainerPort(22), ContainerPort(80), ContainerPort(443))


def _integral(value: object) -> object:
    """JSON does not tell 1468 from 1468.0; both are the integer."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def parse_port(value: object, area_size: int) -> ContainerPort:
    """`"8080/udp"`, `"8080/tcp"`, `"8080"` or `8080` (tcp)."""
    value = _integral(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("ports", f'expected "<port>/<tcp|udp>", got {value!r}'[:120])
    m = _PORT.fullmatch(str(value))
    if not m:
        raise InvalidInput("ports", f'expected "<port>/<tcp|udp>", got {str(value)[:40]!r}')
    port = int(m[1])
    if not 1 <= port < area_size:
        raise InvalidInput("ports", f"port {port} must be between 1 and {area_size - 1} (port_area_size)")
    return ContainerPort(port, m[2] or "tcp")


def parse_ports(values: object, area_size: int) -> tuple[ContainerPort, ...]:
    """The requested ports plus the always-forwarded ones, sorted, without duplicates."""
    if values is None:
        values = []
    if not isinstance(values, list):
        raise InvalidInput("ports", 'expected a list of "<port>/<tcp|udp>"')
    if len(values) > MAX_PORTS:
        raise InvalidInput("ports", f"at most {MAX_PORTS} ports")
    ports = {parse_port(v, area_size) for v in values}
    ports.update(ALWAYS_FORWARDED)  # Config guarantees port_area_size > 443
    return tuple(sorted(ports))


def port_pattern(area_size: int) -> str:
    """An ECMA-262 pattern of exactly what `parse_port` accepts as a string, for OpenAPI."""
    top = str(area_size - 1)
    numbers = []
    if len(top) > 1:
        numbers.append(f"[1-9][0-9]{{0,{len(top) - 2}}}")
    for i, ch in enumerate(top):
        lo = 1 if i == 0 else 0
        if int(ch) > lo:
            rest = len(top) - i - 1
            numbers.append(f"{top[:i]}[{lo}-{int(ch) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    numbers.append(top)
    return f"^(?:{'|'.join(numbers)})(?:/(?:tcp|udp))?$"


def max_root(area_size: int) -> int:
    """The highest root whose area [root, root + area_size - 1] still ends at or below 65535."""
    return 65535 - area_size + 1


def check_root(value: object, area_size: int) -> int:
    value = _integral(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("host_port_root", "expected an integer")
    top = max_root(area_size)
    if not MIN_ROOT <= value <= top:
        raise InvalidInput(
            "host_port_root", f"must be between {MIN_ROOT} and {top} (root + port_area_size - 1 must not exceed 65535)"
        )
    return value


def overlaps(root_a: int, root_b: int, area_size: int) -> bool:
    return root_a < root_b + area_size and root_b < root_a + area_size


def free_areas(roots: Iterable[int], area_size: int) -> tuple[int, int | None]:
    """How many more areas fit between the taken ones, and the lowest root a create would
    accept now (None when none fits). Areas are packed from the start of each free gap,
    which fits the most on a line; a panel that keeps its roots on a grid of its own may
    fit fewer."""
    count, lowest, start = 0, None, MIN_ROOT
    for root in [*sorted(set(roots)), 65536]:  # 65536: a sentinel area just past the last port
        if root > start:
            fits = (root - start) // area_size
            if fits and lowest is None:
                lowest = start
            count += fits
        start = max(start, root + area_size)
    return count, lowest
