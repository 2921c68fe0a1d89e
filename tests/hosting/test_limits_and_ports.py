"""The unit conversions and port-area rules of a hosting container."""

from __future__ import annotations

import re

import pytest

from dockerlink.errors import InvalidInput
from dockerlink.hosting import start_script
from dockerlink.hosting.limits import UNLIMITED, cpu_quota, cpu_warning, memory_bytes
from dockerlink.hosting.ports import ContainerPort, check_root, overlaps, parse_port, parse_ports, port_pattern


@pytest.mark.parametrize(("gib", "expected"), [(1, 1 << 30), (0.5, 1 << 29), (2.25, 2415919104), (0.006, 6442451)])
def test_memory_is_gib_rounded_to_bytes(gib, expected):
    assert memory_bytes(gib) == expected


@pytest.mark.parametrize("zero", [0, 0.0])
def test_memory_zero_means_no_limit(zero):
    assert memory_bytes(zero) == UNLIMITED == 0


@pytest.mark.parametrize("bad", [0.005, -1, -0.5, True, "1", None, float("inf")])
def test_memory_refuses_what_the_engine_would(bad):
    with pytest.raises(InvalidInput, match="^memory:"):
        memory_bytes(bad)


@pytest.mark.parametrize(
    "huge", [1e300, 7.8e307, -1.5e308, 10**400, -(10**400)], ids=["1e300", "7.8e307", "-1.5e308", "10**400", "-10**400"]
)
def test_memory_beyond_any_float_or_byte_count_is_refused_not_a_crash(huge):
    with pytest.raises(InvalidInput, match="^memory:"):
        memory_bytes(huge)


@pytest.mark.parametrize("huge", [1e308, 10**400, -(10**400)], ids=["1e308", "10**400", "-10**400"])
def test_cpu_beyond_any_float_is_refused_not_a_crash(huge):
    with pytest.raises(InvalidInput, match="^cpulimit:"):
        cpu_quota(huge)


@pytest.mark.parametrize(("cores", "quota"), [(1, 100000), (0.01, 1000), (1.5, 150000), (2, 200000), (0.333, 33300)])
def test_cpu_is_a_quota_over_a_100ms_period(cores, quota):
    assert cpu_quota(cores) == quota


def test_cpu_zero_means_no_limit():
    assert cpu_quota(0) == UNLIMITED == 0


@pytest.mark.parametrize("bad", [0.009, -1, -0.5, False, "1", None, float("nan")])
def test_cpu_refuses_below_a_hundredth_negatives_and_non_numbers(bad):
    with pytest.raises(InvalidInput, match="^cpulimit:"):
        cpu_quota(bad)


def test_cpu_above_the_hosts_cores_is_accepted_with_a_warning():
    quota = cpu_quota(2.01)
    assert quota == 201000
    assert "above this host's 2 cores" in cpu_warning(quota, host_cpus=2)
    assert cpu_warning(cpu_quota(2), host_cpus=2) is None
    assert cpu_warning(UNLIMITED, host_cpus=2) is None


@pytest.mark.parametrize(
    ("value", "port"),
    [
        ("80/tcp", ContainerPort(80)),
        ("53/udp", ContainerPort(53, "udp")),
        ("8", ContainerPort(8)),
        (4999, ContainerPort(4999)),
    ],
)
def test_ports_accept_suffixed_bare_and_numeric_forms(value, port):
    assert parse_port(value, 5000) == port


@pytest.mark.parametrize("bad", ["0", "5000", "80/TCP", "80/sctp", "80 ", "-80", "1e3", True, 80.5, None, "99999"])
def test_ports_refuse_anything_else(bad):
    with pytest.raises(InvalidInput, match="^ports:"):
        parse_port(bad, 5000)


def test_integral_json_numbers_are_integers():
    assert parse_port(1468.0, 5000) == ContainerPort(1468)
    assert check_root(10000.0, 5000) == 10000


def test_ssh_http_and_https_are_always_forwarded_once():
    ports = parse_ports(["80", "22/tcp", "22/udp"], 5000)
    assert [str(p) for p in ports] == ["22/tcp", "22/udp", "80/tcp", "443/tcp"]


def test_the_area_must_fit_below_65536():
    assert check_root(60536, 5000) == 60536
    with pytest.raises(InvalidInput, match="^host_port_root:"):
        check_root(60537, 5000)
    with pytest.raises(InvalidInput):
        check_root(1023, 5000)


@pytest.mark.parametrize(
    ("a", "b", "hit"), [(10000, 14999, True), (10000, 15000, False), (15000, 10001, True), (10000, 10000, True)]
)
def test_areas_overlap_when_they_share_a_port(a, b, hit):
    assert overlaps(a, b, 5000) is hit


def test_start_script_runs_starter_and_commands_beside_the_keepalive_it_execs_at_once():
    assert start_script([]) == '( [ -f /var/www/starter.sh ] && sh /var/www/starter.sh; ) & exec "$@"'
    assert start_script(["a", "b c", "it's"]) == (
        "( [ -f /var/www/starter.sh ] && sh /var/www/starter.sh; "
        "sh -c a && sh -c 'b c' && sh -c 'it'\"'\"'s'; ) & exec \"$@\""
    )


@pytest.mark.parametrize("size", [444, 1000, 5000, 10000, 65535])
def test_the_documented_port_pattern_accepts_exactly_what_the_parser_does(size):
    pattern = re.compile(port_pattern(size))
    for n in [0, 1, 9, 10, 99, 100, 443, 999, 1000, size - 2, size - 1, size, size + 1, 99999]:
        for text in (str(n), f"{n}/tcp", f"{n}/udp", f"0{n}"):
            try:
                parse_port(text, size)
                accepted = True
            except InvalidInput:
                accepted = False
            assert bool(pattern.match(text)) is accepted, (size, text)
