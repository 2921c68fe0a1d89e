"""iptables, run as argv: install, check and remove the chains of one site network.

Only dockerlink's own chains (`DOCKERLINK-IN-*`, `DOCKERLINK-FWD-*`) are ever written, and
only their jumps are added to INPUT and DOCKER-USER (inserted first, checked with `-C`
before): no other rule is touched. Both chains are replaced in one `iptables-restore
--noflush` commit, so there is no instant with the chain half-filled.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from .rules import Plan

__all__ = ["Iptables", "FirewallError", "Runner"]

Runner = Callable[[Sequence[str], str | None], subprocess.CompletedProcess]
TIMEOUT = 30.0


class FirewallError(Exception):
    """iptables is missing, not permitted, or refused the rules; one line."""


def _run(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FirewallError(f"{argv[0]}: {exc}") from None


class Iptables:
    """The host's iptables (`binary`, e.g. iptables or iptables-legacy)."""

    def __init__(self, binary: str = "iptables", run: Runner = _run) -> None:
        self._binary = binary
        self._run = run

    def _ok(self, *args: str) -> bool:
        return self._run([self._binary, "-w", *args], None).returncode == 0

    def _must(self, *args: str, stdin: str | None = None, binary: str | None = None) -> str:
        r = self._run([binary or self._binary, *args], stdin)
        if r.returncode != 0:
            text = (r.stderr or r.stdout or "").strip().splitlines()
            raise FirewallError(f"{binary or self._binary} {args[0]}: {text[0] if text else f'exit {r.returncode}'}")
        return r.stdout

    def chain(self, name: str) -> list[str] | None:
        """The rules of a chain as `iptables -S` prints them, or None when it does not exist."""
        r = self._run([self._binary, "-w", "-S", name], None)
        return r.stdout.splitlines()[1:] if r.returncode == 0 else None

    def installed(self, plan: Plan) -> bool:
        """True when both chains hold this plan's version, whole, and both jumps are in place."""
        for name, rules in ((plan.input_chain, plan.input_rules), (plan.forward_chain, plan.forward_rules)):
            current = self.chain(name)
            if current is None or len(current) != 1 + len(rules) or f"dockerlink:{plan.signature}" not in current[0]:
                return False
        return all(self._ok("-C", chain, *rule) for chain, rule in plan.jumps)

    def install(self, plan: Plan) -> None:
        """Replace our two chains with the plan's rules, then add the jumps that are missing."""
        self._must("--noflush", "-w", stdin=plan.restore_text(), binary=f"{self._binary}-restore")
        for chain, rule in plan.jumps:
            if not self._ok("-C", chain, *rule):
                self._must("-w", "-I", chain, "1", *rule)

    def remove(self, plan: Plan) -> None:
        """Take away the jumps and the two chains (a site network that is gone)."""
        for chain, rule in plan.jumps:
            while self._ok("-C", chain, *rule):
                self._must("-w", "-D", chain, *rule)
        for name in (plan.input_chain, plan.forward_chain):
            if self.chain(name) is not None:
                self._must("-w", "-F", name)
                self._must("-w", "-X", name)
