"""iptables as argv over a recording runner; the site network's checks over the fake engine."""

from __future__ import annotations

import subprocess
import time

import pytest

from dockerlink.engine import NetworkInfo
from dockerlink.errors import SiteNetworkUnfit
from dockerlink.isolation import FirewallError, Iptables, ensure_site_network, plan
from tests.fakes import FakeEngine

from .test_rules import NET


class Recorder:
    """Answers like iptables: `-C` of a rule that was inserted succeeds, `-S` lists a chain."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.rules: set[tuple[str, ...]] = set()
        self.chains: dict[str, list[str]] = {}
        self.fail_restore = ""

    def __call__(self, argv, stdin=None):  # noqa: ANN001, ANN204
        self.calls.append((list(argv), stdin))
        args = [a for a in argv[1:] if a != "-w"]
        code, out, err = 0, "", ""
        if argv[0].endswith("-restore"):
            if self.fail_restore:
                code, err = 2, self.fail_restore
            else:
                for line in stdin.splitlines():
                    if line.startswith(":"):
                        self.chains[line[1:].split()[0]] = []
                    elif line.startswith("-A"):
                        self.chains[line.split()[1]].append(line)
        elif args[0] == "-C":
            code = 0 if tuple(args[1:]) in self.rules else 1
        elif args[0] == "-I":
            self.rules.add((args[1], *args[3:]))
        elif args[0] == "-D":
            self.rules.discard(tuple(args[1:]))
        elif args[0] == "-S":
            if args[1] in self.chains:
                out = "\n".join([f"-N {args[1]}", *self.chains[args[1]]]) + "\n"
            else:
                code = 1
        elif args[0] == "-X":
            del self.chains[args[1]]
        return subprocess.CompletedProcess(argv, code, out, err)


def test_install_restores_both_chains_in_one_commit_then_inserts_the_missing_jumps_first():
    run = Recorder()
    fw = Iptables(run=run)
    p = plan(NET)
    assert not fw.installed(p)
    fw.install(p)
    restore = [c for c in run.calls if c[0][0] == "iptables-restore"]
    assert restore == [(["iptables-restore", "--noflush", "-w"], p.restore_text())]
    inserted = [c[0] for c in run.calls if "-I" in c[0]]
    assert inserted == [
        ["iptables", "-w", "-I", "INPUT", "1", "-i", "br-0123456789ab", "-j", "DOCKERLINK-IN-0123456789ab"],
        ["iptables", "-w", "-I", "DOCKER-USER", "1", "-i", "br-0123456789ab", "-j", "DOCKERLINK-FWD-0123456789ab"],
    ]
    assert fw.installed(p)
    run.calls.clear()
    fw.install(p)  # again: the jumps are there, none is added twice
    assert not [c for c in run.calls if "-I" in c[0]]


def test_an_emptied_chain_or_another_version_is_not_installed():
    run = Recorder()
    fw = Iptables(run=run)
    p = plan(NET)
    fw.install(p)
    run.chains[p.input_chain] = []  # iptables -F
    assert not fw.installed(p)
    fw.install(p)
    assert fw.installed(p)
    assert not fw.installed(plan(NET, outgoing_deny=parse_25()))


def parse_25():  # noqa: ANN201
    from dockerlink.isolation import parse_port_list

    return parse_port_list("25")


def test_a_refusal_is_one_line_naming_the_command():
    run = Recorder()
    run.fail_restore = "iptables-restore: line 3 failed\nmore"
    with pytest.raises(FirewallError) as exc:
        Iptables(run=run).install(plan(NET))
    assert str(exc.value) == "iptables-restore --noflush: iptables-restore: line 3 failed"


def test_remove_takes_our_jumps_and_chains_only():
    run = Recorder()
    fw = Iptables(run=run)
    p = plan(NET)
    fw.install(p)
    run.rules.add(("INPUT", "-i", "eth0", "-j", "ACCEPT"))  # not ours
    fw.remove(p)
    assert run.rules == {("INPUT", "-i", "eth0", "-j", "ACCEPT")}
    assert p.input_chain not in run.chains and p.forward_chain not in run.chains


def test_the_site_network_is_made_once_with_icc_off_and_dockerlinks_label():
    engine = FakeEngine()
    first = ensure_site_network(engine.networks, "dockerlink-sites")
    assert first.options == {"com.docker.network.bridge.enable_icc": "false"}
    assert "dockerlink" in first.labels and not first.icc
    assert ensure_site_network(engine.networks, "dockerlink-sites") == first


@pytest.mark.parametrize(
    ("labels", "options", "driver", "says"),
    [
        ({}, {"com.docker.network.bridge.enable_icc": "false"}, "bridge", "dockerlink did not make it"),
        ({"dockerlink": "0.1"}, {}, "bridge", "reach each other"),
        ({"dockerlink": "0.1"}, {"com.docker.network.bridge.enable_icc": "true"}, "bridge", "reach each other"),
        ({"dockerlink": "0.1"}, {"com.docker.network.bridge.enable_icc": "false"}, "macvlan", "not a bridge"),
    ],
)
def test_a_network_we_may_not_use_is_refused_in_one_line_naming_the_setting(labels, options, driver, says):
    engine = FakeEngine()
    engine.networks.by_name["sites"] = NetworkInfo("a" * 64, "sites", driver, labels, options, (), ())
    with pytest.raises(SiteNetworkUnfit) as exc:
        ensure_site_network(engine.networks, "sites")
    assert str(exc.value).startswith("site_network: ") and says in str(exc.value) and "\n" not in str(exc.value)


def test_a_subnet_other_than_site_subnet_is_refused():
    engine = FakeEngine()
    ensure_site_network(engine.networks, "sites", "10.210.0.0/20")
    with pytest.raises(SiteNetworkUnfit):
        ensure_site_network(engine.networks, "sites", "10.211.0.0/20")


def test_the_keeper_installs_once_and_again_when_a_site_publishes_a_port_or_the_chain_is_emptied():
    from dockerlink.config import Config
    from dockerlink.engine import PortBinding
    from dockerlink.isolation.keeper import Keeper

    engine, run = FakeEngine(), Recorder()
    keeper = Keeper(engine, Config(), Iptables(run=run))  # type: ignore[arg-type]
    assert keeper.check_once() is True
    assert keeper.check_once() is False
    engine.containers.add(
        "site1", labels={"dockerlink": "0.1.0"}, port_bindings=(PortBinding(22, "tcp", "0.0.0.0", 10022),)
    )
    assert keeper.check_once() is True
    assert any("--dports 10022 -j RETURN" in line for line in run.chains[keeper.current_plan().input_chain])
    run.chains[keeper.current_plan().forward_chain] = []
    assert keeper.check_once() is True


def test_the_keeper_with_the_followers_changes_lists_the_sites_once_and_then_only_a_started_one():
    """At 1000 sites a whole listing costs the engine ~70 ms of CPU: with the follower's
    changes the keeper lists once, and after a site starts asks for that one only."""
    from dockerlink.config import Config
    from dockerlink.engine import EngineEvent, PortBinding
    from dockerlink.isolation.keeper import Keeper
    from dockerlink.stats.collector import ContainerChanges

    engine, run = FakeEngine(), Recorder()
    asked: list[object] = []
    listing = engine.containers.list

    def counted(all=True, filters=None):  # noqa: A002, ANN001, ANN202
        asked.append((filters or {}).get("id", "whole"))
        return listing(all=all, filters=filters)

    engine.containers.list = counted  # type: ignore[method-assign]
    changes = ContainerChanges()  # the engine's event times and the keeper's list: time.time
    changes.following(True)
    keeper = Keeper(engine, Config(), Iptables(run=run), changes=changes)  # type: ignore[arg-type]
    engine.containers.add(
        "site1", labels={"dockerlink": "0.1.0"}, port_bindings=(PortBinding(22, "tcp", "0.0.0.0", 10022),)
    )
    assert keeper.check_once() is True
    assert keeper.check_once() is False
    assert asked == ["whole"]
    site2 = engine.containers.add(
        "site2", labels={"dockerlink": "0.1.0"}, port_bindings=(PortBinding(22, "tcp", "0.0.0.0", 10122),)
    )
    changes.handle(EngineEvent("container", "start", site2.id, time.time(), {"dockerlink": "0.1.0"}), replayed=False)
    assert keeper.check_once() is True
    assert asked == ["whole", [site2.id]]
    rules = run.chains[keeper.current_plan().input_chain]
    assert any("--dports 10022,10122 -j RETURN" in line for line in rules)
