"""Agent presence across nodes: who is connected where, with which status and capacity.

Each node is the truth for the agents connected to it (it holds their sockets). It tells the others
through the bus: a `NodePresence` snapshot on the `cluster` topic — its node id and, for each agent
with a socket here, status and capacity — every `HEARTBEAT_SECS`, at once whenever one of them
changes, and when a node that just started asks for everybody's. A snapshot holds for `TTL_SECS`;
a node that dies stops sending, and its agents age out on every other node (the Redis ZSET with
expiry scores, done with the bus alone).

Why the bus and not broker keys or a store table: the same code runs on the local bus, Redis and
NATS (which has no keys with a TTL that fit; see research D1); the store is not written every few
seconds per node for soft state; a lost snapshot is mended by the next heartbeat. What must never be
wrong — capacity, one assignee per conversation — is decided in the store (`Store.assign`), not
here: presence only says who may be offered work.

An agent connected to two nodes (two tabs behind a load balancer) counts once; their status is the
most available one they hold anywhere (`online` beats `away`).

`Presence` is sans-I/O (a clock is passed in): cluster.py does the publishing and the timers.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from papote.events import NodePresence
from papote.types import AgentStatus

#: A node sends its snapshot this often even when nothing changed: it is also its heartbeat.
HEARTBEAT_SECS = 3.0
#: A snapshot holds this long. Five heartbeats: a broker outage of several seconds (the bus
#: reconnects with backoff) does not make every remote agent look offline, and a dead node's agents
#: still leave within 15 s — the research suggests 45-60 s for Redis keys; routing to an agent whose
#: node died is harmless (they reconnect to another node and find the conversation there).
TTL_SECS = 15.0

_RANK = {AgentStatus.ONLINE.value: 2, AgentStatus.AWAY.value: 1}


@dataclass(slots=True)
class _Remote:
    expires_at: float
    agents: dict[str, tuple[str, int]]


class Presence:
    """Local sockets per agent, and the other nodes' latest snapshots."""

    def __init__(self, node: str = "local", clock: Callable[[], float] = time.monotonic) -> None:
        self.node = node
        self.clock = clock
        # The agents connected to this node.
        self.status: dict[str, str] = {}
        self.capacity: dict[str, int] = {}
        self.sockets: dict[str, int] = {}
        self._remote: dict[str, _Remote] = {}
        #: Called after a local change (cluster.py publishes the new snapshot).
        self.on_local_change: Callable[[], None] | None = None

    # -- this node's agents --------------------------------------------------------------------------
    def connected(self, agent_id: str, status: str, capacity: int) -> None:
        self.sockets[agent_id] = self.sockets.get(agent_id, 0) + 1
        self.status[agent_id] = status
        self.capacity[agent_id] = capacity
        self._changed()

    def disconnected(self, agent_id: str) -> bool:
        """Returns True when that was the agent's last socket on this node and none remains on any
        other: they are now offline."""
        left = self.sockets.get(agent_id, 0) - 1
        if left > 0:
            self.sockets[agent_id] = left
            return False
        self.sockets.pop(agent_id, None)
        self._changed()
        return self.effective(agent_id) == AgentStatus.OFFLINE.value

    def set(self, agent_id: str, status: str, capacity: int | None = None) -> None:
        self.status[agent_id] = status
        if capacity is not None:
            self.capacity[agent_id] = capacity
        self._changed()

    def _changed(self) -> None:
        if self.on_local_change is not None:
            self.on_local_change()

    def snapshot(self, ask: bool = False) -> NodePresence:
        agents = {a: [self.status.get(a, AgentStatus.ONLINE.value), self.capacity.get(a, 0)]
                  for a in self.sockets}
        return NodePresence(self.node, agents, TTL_SECS, ask)

    # -- the other nodes -----------------------------------------------------------------------------
    def heard(self, snap: NodePresence) -> builtins.set[str]:
        """Take another node's snapshot; returns the agents whose effective status or capacity moved."""
        if snap.node == self.node:
            return set()
        before = self._remote.get(snap.node)
        old = before.agents if before is not None and before.expires_at > self.clock() else {}
        agents: dict[str, tuple[str, int]] = {}
        for agent_id, entry in snap.agents.items():
            if (isinstance(agent_id, str) and isinstance(entry, list) and len(entry) == 2
                    and isinstance(entry[0], str) and isinstance(entry[1], int)):
                agents[agent_id] = (entry[0], entry[1])
        ttl = min(max(float(snap.ttl_secs), 1.0), 300.0)
        seen = {a: self._view(a) for a in old.keys() | agents.keys()}
        self._remote[snap.node] = _Remote(self.clock() + ttl, agents)
        return {a for a, view in seen.items() if self._view(a) != view}

    def expire(self) -> builtins.set[str]:
        """Forget the nodes that went silent; returns the agents that left with them."""
        now = self.clock()
        gone = [n for n, r in self._remote.items() if r.expires_at <= now]
        if not gone:
            return set()
        agents = {a for n in gone for a in self._remote[n].agents}
        # What the others saw of them until now, silent nodes included, against what remains.
        before = {a: self._view(a, at=float("-inf")) for a in agents}
        for n in gone:
            del self._remote[n]
        return {a for a in agents if self._view(a) != before[a]}

    def nodes(self) -> list[str]:
        """This node and every other one heard from within its snapshot's lifetime, sorted."""
        now = self.clock()
        return sorted({self.node, *(n for n, r in self._remote.items() if r.expires_at > now)})

    # -- what everyone reads -------------------------------------------------------------------------
    def _view(self, agent_id: str, at: float | None = None) -> tuple[str, int | None]:
        return self.effective(agent_id, at), self._capacity(agent_id, at)

    def _remote_entries(self, agent_id: str, at: float | None = None) -> Iterable[tuple[str, int]]:
        """The entries of the nodes heard from that still hold at `at` (now by default)."""
        now = self.clock() if at is None else at
        for remote in self._remote.values():
            if remote.expires_at > now:
                entry = remote.agents.get(agent_id)
                if entry is not None:
                    yield entry

    def effective(self, agent_id: str, at: float | None = None) -> str:
        best = AgentStatus.OFFLINE.value
        if agent_id in self.sockets:
            best = self.status.get(agent_id, AgentStatus.OFFLINE.value)
        for status, _ in self._remote_entries(agent_id, at):
            if _RANK.get(status, 0) > _RANK.get(best, 0):
                best = status
        return best

    def capacity_of(self, agent_id: str, default: int) -> int:
        """The capacity the agent chose where they are connected (the largest, if several), else
        `default` (the agent record's)."""
        found = self._capacity(agent_id)
        return default if found is None else found

    def _capacity(self, agent_id: str, at: float | None = None) -> int | None:
        found = [c for _, c in self._remote_entries(agent_id, at)]
        if agent_id in self.sockets and agent_id in self.capacity:
            found.append(self.capacity[agent_id])
        return max(found) if found else None

    def online(self, agent_ids: Iterable[str]) -> list[str]:
        return [a for a in agent_ids if self.effective(a) == AgentStatus.ONLINE.value]
