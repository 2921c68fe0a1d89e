"""A sample as the API shows it (docs/contract.md §3.2): memory in GiB, CPU in percent, net in KiB.

A point never changes once written, so the store renders its JSON once, when it writes
it, and a history answer is a join of rendered points: a week is ~2500 points and ~20 000
numbers, and printing them at every query cost about as much as the 20 ms a query may
take on this 2-core host; joining stored text costs ~3 ms.
"""

from __future__ import annotations

from typing import Any

from .arithmetic import GIB, GIB_DECIMALS, KIB, KIB_DECIMALS, PERCENT_DECIMALS, finite, format_ts, gib, kib
from .samples import Sample

__all__ = ["sample_body", "render", "with_counts", "join", "fill_cpu_ceiling"]

_G, _K, _P = f".{GIB_DECIMALS}f", f".{KIB_DECIMALS}f", f".{PERCENT_DECIMALS}f"
_POINT = (
    f'"%s":{{"memory":{{"used":%{_G},"limit":%{_G}}},"cpu":{{"usage_percent":%{_P},"limit":%s}},'
    f'"net":{{"up":%{_K},"down":%{_K},"delta_up":%{_K},"delta_down":%{_K}}}}}'
)
_LIMIT = f"%{_P}"
_NON_FINITE = (":nan", ":inf", ":-inf")
#: How `render` prints an unlimited CPU (the memory limit is never null, so this is the CPU's).
_NO_CPU_LIMIT = '"limit":null}'


def sample_body(s: Sample) -> dict[str, Any]:
    """One sample's value in the answer, as a dict (what `render` prints, number for number)."""
    cpu_limit = None if s.cpu_limit is None else round(finite(s.cpu_limit), PERCENT_DECIMALS)
    return {
        "memory": {"used": gib(s.memory_used), "limit": gib(s.memory_limit)},
        "cpu": {"usage_percent": round(finite(s.cpu_percent), PERCENT_DECIMALS), "limit": cpu_limit},
        "net": {
            "up": kib(s.net_up),
            "down": kib(s.net_down),
            "delta_up": kib(s.delta_up),
            "delta_down": kib(s.delta_down),
        },
    }


def render(s: Sample) -> str:
    """`"<ts>":{...}`, one member of the answer's object, numbers with fixed decimals.

    Like `json.dumps(allow_nan=False)`, a NaN or an infinity raises ValueError rather
    than reaching a JSON parser (the store sanitises what it writes, so none arrives).
    """
    text = _POINT % (
        format_ts(s.ts),
        s.memory_used / GIB,
        s.memory_limit / GIB,
        s.cpu_percent,
        "null" if s.cpu_limit is None else _LIMIT % s.cpu_limit,
        s.net_up / KIB,
        s.net_down / KIB,
        s.delta_up / KIB,
        s.delta_down / KIB,
    )
    if any(bad in text for bad in _NON_FINITE):
        raise ValueError(f"Out of range float values are not JSON compliant: {s!r}")
    return text


def with_counts(rendered: str, pids: int, oom_kills: int) -> str:
    """A rendered sample with the container's process count and its OOM kills since it
    started (extra fields; a coarse point carries its window's most processes and last count)."""
    return f'{rendered[:-1]},"pids":{int(pids)},"oom_kills":{int(oom_kills)}}}'


def join(rendered: list[str]) -> str:
    """The answer: rendered points, in the order given (ascending time)."""
    return "{" + ",".join(rendered) + "}"


def fill_cpu_ceiling(answer: str, ceiling: float) -> str:
    """An answer with each unlimited CPU (stored as null) shown as `ceiling` percent.

    Points keep null (unlimited) as stored, with their rendered text; the ceiling is the
    host's and is filled in at query time, so history written before it was known reads
    the same."""
    return answer.replace(_NO_CPU_LIMIT, '"limit":' + _LIMIT % ceiling + "}")
