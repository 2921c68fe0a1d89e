"""Moving a site from this host to another, agent to agent (docs/contract.md §7.3).

site.py      what moves besides the files: read from the container, checked on arrival
passes.py    the two passes over the tree: all of it while it runs, what changed once stopped
peer.py      the receiving agent as the sender calls it (its transfer token, TLS verified)
sender.py    host A: the journaled state machine, roll-back, emptying A once B runs the site
receiver.py  host B: the transfer token, the site made, its files checked in, start or removal
keeper.py    the collector's job: a transfer whose worker died is finished or rolled back;
             what an expired token's transfer made on B is removed
"""

from .keeper import keeper_job
from .receiver import Receiver
from .sender import Sender

__all__ = ["Receiver", "Sender", "keeper_job"]
