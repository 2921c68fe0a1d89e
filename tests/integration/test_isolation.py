"""Tenants of one host cannot reach or hurt each other (issue 23, items 1 and 2), on the real
engine: two sites made through the service, probed from inside site A as its user `admin`.

The module runs its own site network (`dltest-<session>-sites`) so that its firewall
settings never touch another test's; sites publish on that network's gateway address (an
address this test made), so a site can reach another's published port through the host.
No traffic goes anywhere else: link-local and denied-port rules are checked with `iptables -C`.
"""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from dockerlink.config import Config
from dockerlink.engine import Engine, EngineError
from dockerlink.isolation import Iptables, ensure_site_network
from dockerlink.isolation.keeper import Keeper, check_at_start

from .conftest import PREFIX
from .live import live_service, wait_until

AREA = 500
# Above the ephemeral range (32768-60999): an outgoing connection never holds them; and
# far from the 5000-wide areas of the other modules.
ROOT_A, ROOT_B, ROOT_OLD = 63000, 63500, 64000
NETWORK = f"{PREFIX}sites"
DENIED_OUT = 2525


def _listener(host: str) -> tuple[socket.socket, int]:
    """A TCP server on `host` that greets and closes: a service of the host."""
    s = socket.socket()
    s.bind((host, 0))
    s.listen(16)

    def serve() -> None:
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            with c:
                c.sendall(b"hello-from-host\n")

    threading.Thread(target=serve, daemon=True).start()
    return s, s.getsockname()[1]


@pytest.fixture(scope="module")
def net(engine):
    info = ensure_site_network(engine.networks, NETWORK)
    yield info
    for c in engine.containers.list(all=True, filters={"network": [NETWORK]}):
        if c.name.startswith(PREFIX):
            engine.containers.remove(c.id, force=True, volumes=True)
    settings = Config.from_mapping({"site_network": NETWORK})
    try:
        Iptables().remove(Keeper(engine, settings).current_plan())
        engine.networks.remove(NETWORK)
    except EngineError as exc:
        print(f"could not remove {NETWORK}: {exc}")


@pytest.fixture(scope="module")
def host_ports(net):
    gateway = net.gateways[0]
    allowed, allowed_port = _listener(gateway)
    closed, closed_port = _listener(gateway)
    yield gateway, allowed_port, closed_port
    allowed.close()
    closed.close()


@pytest.fixture(scope="module")
def settings(net, host_ports):
    gateway, allowed_port, _ = host_ports
    return {
        "site_network": NETWORK,
        "publish_ip": gateway,
        "port_area_size": str(AREA),
        "host_allow_ports": str(allowed_port),
        "outgoing_deny_ports": str(DENIED_OUT),
    }


@pytest.fixture(scope="module")
def svc(engine, settings, tmp_path_factory):
    with live_service(tmp_path_factory.mktemp("isolation"), stats_interval="5", **settings) as s:
        yield s


def _create(svc, name: str, root: int) -> str:  # noqa: ANN001
    r = svc.request(
        "PUT", "/v1/container?start=true", json={"name": name, "host_port_root": root, "memory": 0.25, "cpulimit": 0.5}
    )
    assert r.status_code == 200, r.text
    return r.json()["Id"]


def _banner(host: str, port: int) -> bytes:
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            return s.recv(64)
    except OSError:
        return b""


@pytest.fixture(scope="module")
def sites(svc, engine, net, settings):
    a = _create(svc, f"{PREFIX}iso-a", ROOT_A)
    b = _create(svc, f"{PREFIX}iso-b", ROOT_B)
    gateway = settings["publish_ip"]
    for root in (ROOT_A, ROOT_B):  # sshd up in both (through the host's proxy)
        wait_until(lambda root=root: _banner(gateway, root + 22).startswith(b"SSH-"), 60, f"sshd on {root + 22}")
    # a service the tenant of B runs on 0.0.0.0, as admin
    listen = (
        "nohup perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>8080,Listen=>5,ReuseAddr=>1) or die;"
        ' while($c=$s->accept){print $c "hello-from-b\\n"; close $c}\' >/dev/null 2>&1 &'
    )
    assert engine.execs.run(b, ["bash", "-c", listen], user="admin").exit_code == 0
    keeper = Keeper(engine, Config.from_mapping(settings))
    wait_until(lambda: Iptables().installed(keeper.current_plan()), 60, "the site firewall, with both sites' ports")
    yield a, b
    for site in (a, b):
        svc.request("DELETE", f"/v1/container?id={site}")


def address(engine, site: str) -> str:  # noqa: ANN001
    return engine.transport.request("GET", ["containers", site, "json"]).json()["NetworkSettings"]["Networks"][NETWORK][
        "IPAddress"
    ]


def reach(engine, site: str, host: str, port: int) -> tuple[bool, str]:  # noqa: ANN001
    """From inside `site`, as admin: connect to host:port and read a line (bash's /dev/tcp)."""
    script = f"exec 3<>/dev/tcp/{host}/{port} || exit 7; timeout 2 head -n 1 <&3; exit 0"
    r = engine.execs.run(site, ["timeout", "5", "bash", "-c", script], user="admin")
    return r.exit_code == 0, r.output


def test_new_sites_are_listed_as_isolated_and_are_on_the_site_network_alone(svc, engine, sites):
    listed = svc.get("/v1/container", params={"id": list(sites)}).json()["success"]
    for site in sites:
        assert listed[site]["isolated"] is True
        networks = engine.transport.request("GET", ["containers", site, "json"]).json()["NetworkSettings"]["Networks"]
        assert list(networks) == [NETWORK]


def test_the_tenant_service_answers_inside_its_own_site(engine, sites):
    _, b = sites
    assert wait_until(lambda: reach(engine, b, "127.0.0.1", 8080)[0], 30, "B's own listener")
    assert "hello-from-b" in reach(engine, b, "127.0.0.1", 8080)[1]


@pytest.mark.parametrize("port", [22, 4200, 8080])
def test_a_site_cannot_reach_another_sites_address_on_any_port(engine, sites, port):
    a, b = sites
    ok, out = reach(engine, a, address(engine, b), port)
    assert not ok, f"site A reached site B's {port}: {out!r}"


def test_a_site_reaches_another_sites_published_port_through_the_host(engine, sites, settings):
    a, _ = sites
    ok, out = reach(engine, a, settings["publish_ip"], ROOT_B + 22)
    assert ok and out.startswith("SSH-"), out


def test_a_site_cannot_reach_the_web_terminal_published_on_loopback_only(engine, sites, settings):
    a, _ = sites
    assert not reach(engine, a, settings["publish_ip"], ROOT_B)[0]  # the terminal: 127.0.0.1:<root> only
    assert not reach(engine, a, "127.0.0.1", ROOT_B)[0]  # a site's loopback is its own


def test_a_host_service_on_the_gateway_is_refused_unless_allow_listed(engine, sites, host_ports):
    a, _ = sites
    gateway, allowed, closed = host_ports
    assert _banner(gateway, closed) == b"hello-from-host\n"  # it answers the host itself
    assert not reach(engine, a, gateway, closed)[0]
    ok, out = reach(engine, a, gateway, allowed)
    assert ok and "hello-from-host" in out


def test_names_still_resolve_through_the_engines_resolver(engine, sites):
    a, b = sites
    r = engine.execs.run(a, ["getent", "hosts", f"{PREFIX}iso-b"], user="admin")
    assert r.exit_code == 0 and address(engine, b) in r.output


def _chain_rule(chain: str, *rule: str) -> bool:
    return subprocess.run(["iptables", "-w", "-C", chain, *rule], capture_output=True).returncode == 0


def test_link_local_and_denied_outgoing_ports_are_refused_by_rule(engine, net, sites):
    fwd = f"DOCKERLINK-FWD-{net.id[:12]}"
    assert _chain_rule("DOCKER-USER", "-i", net.bridge, "-j", fwd)
    assert _chain_rule(fwd, "-d", "169.254.0.0/16", "-j", "REJECT", "--reject-with", "icmp-admin-prohibited")
    assert _chain_rule(
        fwd, "-p", "tcp", "-m", "multiport", "--dports", str(DENIED_OUT), "-j", "REJECT", "--reject-with", "tcp-reset"
    )
    assert _chain_rule("INPUT", "-i", net.bridge, "-j", f"DOCKERLINK-IN-{net.id[:12]}")


@pytest.fixture(scope="module")
def outside(engine):
    """A network namespace of the test's own, routed from the host (a veth pair in
    198.18.0.0/15, the benchmarking range), with listeners on the denied port and one more:
    somewhere "elsewhere" a site may connect to, that is an address the test made."""
    ns = f"{PREFIX}out"
    third = int(PREFIX.split("-")[1][:2], 16)
    host_ip, ns_ip = f"198.18.{third}.1", f"198.18.{third}.2"
    host_if, ns_if = f"dl{PREFIX.split('-')[1]}h", f"dl{PREFIX.split('-')[1]}n"
    steps = [
        ["ip", "netns", "add", ns],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "set", ns_if, "netns", ns],
        ["ip", "addr", "add", f"{host_ip}/30", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if],
        ["ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up"],
        ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
    ]
    listeners = []
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        for port in (DENIED_OUT, DENIED_OUT + 1):
            listeners.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", ns, "socat", f"TCP-LISTEN:{port},fork,reuseaddr", "SYSTEM:echo hi-outside"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield ns_ip
    finally:
        for p in listeners:
            p.kill()
            p.wait()
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_a_denied_outgoing_port_is_refused_and_another_port_there_answers(engine, sites, outside):
    a, _ = sites
    ok, out = wait_until(lambda: (r := reach(engine, a, outside, DENIED_OUT + 1))[0] and r, 20, "the outside listener")
    assert "hi-outside" in out
    assert not reach(engine, a, outside, DENIED_OUT)[0]


def test_an_emptied_chain_is_installed_again_by_the_collector(engine, net, sites, host_ports):
    a, _ = sites
    gateway, _, closed = host_ports
    chain = f"DOCKERLINK-IN-{net.id[:12]}"
    subprocess.run(["iptables", "-w", "-F", chain], check=True)  # as a firewall reload or `iptables -F` would
    wait_until(lambda: not reach(engine, a, gateway, closed)[0], 60, "the keeper to install the rules again")


def test_a_site_made_before_the_site_network_is_listed_so_and_isolate_moves_it(svc, engine, sites, settings):
    old = _create(svc, f"{PREFIX}iso-old", ROOT_OLD)
    try:
        # as main made it: on the engine's default bridge
        engine.networks.connect("bridge", old)
        engine.networks.disconnect(NETWORK, old)
        engine.execs.run(old, ["sh", "-c", "echo kept > /var/www/mark"], user="admin")
        listed = svc.get("/v1/container", params={"id": old}).json()["success"][old]
        assert listed["isolated"] is False
        r = svc.request("POST", f"/v1/container/isolate?id={old}")
        assert r.status_code == 200, r.text
        assert r.json() == {"id": old, "isolated": True, "moved": True}
        details = engine.transport.request("GET", ["containers", old, "json"]).json()
        assert list(details["NetworkSettings"]["Networks"]) == [NETWORK]
        assert svc.get("/v1/container", params={"id": old}).json()["success"][old]["isolated"] is True
        assert engine.execs.run(old, ["cat", "/var/www/mark"]).stdout == b"kept\n"  # same container, same data
        gateway = settings["publish_ip"]
        wait_until(lambda: _banner(gateway, ROOT_OLD + 22).startswith(b"SSH-"), 30, "its published ssh port")
        again = svc.request("POST", f"/v1/container/isolate?id={old}")
        assert again.json() == {"id": old, "isolated": True, "moved": False}
    finally:
        svc.request("DELETE", f"/v1/container?id={old}")


def test_a_network_of_that_name_not_made_by_dockerlink_or_with_icc_on_refuses_the_start(engine):
    foreign = f"{PREFIX}foreign"
    chatty = f"{PREFIX}chatty"
    engine.transport.request("POST", ["networks", "create"], json={"Name": foreign, "CheckDuplicate": True})
    engine.transport.request(
        "POST", ["networks", "create"], json={"Name": chatty, "CheckDuplicate": True, "Labels": {"dockerlink": "0"}}
    )
    try:
        with pytest.raises(RuntimeError) as made_elsewhere:
            check_at_start(Config.from_mapping({"site_network": foreign}))
        assert str(made_elsewhere.value).startswith(f"site_network: network {foreign} exists but dockerlink did not")
        with pytest.raises(RuntimeError) as icc_on:
            check_at_start(Config.from_mapping({"site_network": chatty}))
        assert "reach each other" in str(icc_on.value) and "\n" not in str(icc_on.value)
    finally:
        for name in (foreign, chatty):
            Engine().networks.remove(name)
