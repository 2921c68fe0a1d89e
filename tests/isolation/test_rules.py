"""The site network's rules as plain values, and the settings that shape them."""

from __future__ import annotations

import pytest

from dockerlink.config import Config, ConfigError
from dockerlink.engine import NetworkInfo, PortBinding
from dockerlink.isolation import HostPort, chain_names, parse_port_list, plan

NET = NetworkInfo(
    id="0123456789ab" + "f" * 52,
    name="dockerlink-sites",
    driver="bridge",
    labels={"dockerlink": "0.1.0"},
    options={"com.docker.network.bridge.enable_icc": "false"},
    subnets=("172.18.0.0/16",),
    gateways=("172.18.0.1",),
)


def test_port_lists_take_bare_numbers_as_tcp_and_drop_duplicates():
    assert parse_port_list("3306, 53/udp,3306/tcp,") == (HostPort(53, "udp"), HostPort(3306, "tcp"))


@pytest.mark.parametrize("raw", ["0", "65536", "22/sctp", "22 23", "-1", "x"])
def test_port_lists_refuse_what_is_not_a_port(raw):
    with pytest.raises(ValueError):
        parse_port_list(raw)


def test_settings_name_the_field_they_refuse():
    for values, field in (
        ({"host_allow_ports": "3306,abc"}, "host_allow_ports"),
        ({"outgoing_deny_ports": "25/icmp"}, "outgoing_deny_ports"),
        ({"site_network": "bridge"}, "site_network"),
        ({"site_network": "a b"}, "site_network"),
        ({"site_subnet": "10.0.0.1/16"}, "site_subnet"),  # host bits set
        ({"site_subnet": "10.0.0.0/30"}, "site_subnet"),
        ({"site_firewall": "maybe"}, "site_firewall"),
    ):
        with pytest.raises(ConfigError) as exc:
            Config.from_mapping(values)
        assert str(exc.value).startswith(f"{field}: ")


def test_defaults_one_shared_network_engine_pool_firewall_on_nothing_allowed_or_denied():
    c = Config.from_mapping({})
    assert (c.site_network, c.site_subnet, c.site_firewall) == ("dockerlink-sites", None, True)
    assert c.host_allow_ports == c.outgoing_deny_ports == ()


def test_chain_names_fit_iptables_28_characters():
    assert chain_names(NET.id) == ("DOCKERLINK-IN-0123456789ab", "DOCKERLINK-FWD-0123456789ab")
    assert all(len(n) <= 28 for n in chain_names(NET.id))


def test_the_host_is_refused_but_replies_dns_on_the_gateway_published_and_allowed_ports():
    published = [
        PortBinding(22, "tcp", "0.0.0.0", 10022),
        PortBinding(22, "tcp", "::", 10022),  # the same binding's IPv6 listener
        PortBinding(4200, "tcp", "127.0.0.1", 10000),  # the terminal: loopback, out of a site's reach
        PortBinding(53, "udp", "192.0.2.7", 10053),
    ]
    p = plan(NET, published=published, host_allow=[HostPort(3306)])
    assert p.input_rules == (
        ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"),
        ("-d", "172.18.0.1/32", "-p", "udp", "--dport", "53", "-j", "RETURN"),
        ("-d", "172.18.0.1/32", "-p", "tcp", "--dport", "53", "-j", "RETURN"),
        ("-p", "tcp", "-m", "multiport", "--dports", "3306,10022", "-j", "RETURN"),
        ("-d", "192.0.2.7/32", "-p", "udp", "-m", "multiport", "--dports", "10053", "-j", "RETURN"),
        ("-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"),
        ("-j", "REJECT", "--reject-with", "icmp-admin-prohibited"),
    )
    assert p.jumps == (
        ("INPUT", ("-i", "br-0123456789ab", "-j", "DOCKERLINK-IN-0123456789ab")),
        ("DOCKER-USER", ("-i", "br-0123456789ab", "-j", "DOCKERLINK-FWD-0123456789ab")),
    )


def test_elsewhere_link_local_and_denied_ports_are_refused_in_chunks_of_15():
    deny = [HostPort(p) for p in range(1000, 1016)] + [HostPort(25, "udp")]
    p = plan(NET, outgoing_deny=deny)
    assert p.forward_rules == (
        ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"),
        ("-d", "169.254.0.0/16", "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"),
        ("-p", "tcp", "-m", "multiport", "--dports", ",".join(map(str, range(1000, 1015))))
        + ("-j", "REJECT", "--reject-with", "tcp-reset"),
        ("-p", "tcp", "-m", "multiport", "--dports", "1015", "-j", "REJECT", "--reject-with", "tcp-reset"),
        ("-p", "udp", "-m", "multiport", "--dports", "25", "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"),
    )


def test_the_restore_text_names_only_our_two_chains_and_starts_each_with_the_marker():
    p = plan(NET)
    text = p.restore_text()
    declared = [line for line in text.splitlines() if line.startswith(":")]
    assert declared == [":DOCKERLINK-IN-0123456789ab - [0:0]", ":DOCKERLINK-FWD-0123456789ab - [0:0]"]
    assert text.startswith("*filter\n") and text.endswith("COMMIT\n")
    appended = {line.split()[1] for line in text.splitlines() if line.startswith("-A")}
    assert appended == {"DOCKERLINK-IN-0123456789ab", "DOCKERLINK-FWD-0123456789ab"}
    assert f"-A DOCKERLINK-IN-0123456789ab -m comment --comment dockerlink:{p.signature}" in text


def test_a_new_published_port_changes_the_signature():
    assert plan(NET).signature != plan(NET, published=[PortBinding(80, "tcp", "0.0.0.0", 10080)]).signature


def test_a_bridge_name_that_could_inject_is_refused():
    bad = NetworkInfo(NET.id, "x", "bridge", {}, {"com.docker.network.bridge.name": "br0 -j ACCEPT"}, (), ())
    with pytest.raises(ValueError):
        plan(bad)
