"""Who answers: agent presence, the choice of an agent, the queue and its honest wait estimate.

The decisions here are pure functions of their inputs (tested without a server); `Chat` in
conversations.py does the I/O around them.

* An agent is *available* while connected with status `online` and below capacity.
* A new conversation goes to the available agent with the most free slots; ties go to the one idle
  longest (assigned least recently). A returning visitor goes back to their previous agent when that
  agent is available.
* When nobody is available the conversation waits in a first-in first-out queue per site. The visitor
  is told their position and an estimate: position × median handling time ÷ agents online (with at
  least one slot), from the site's recent closed conversations. No history, no estimate: we say
  "unknown" rather than invent a number.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from papote.types import AgentStatus


@dataclass(frozen=True)
class Candidate:
    agent_id: str
    load: int
    capacity: int
    last_assigned_at: int

    @property
    def free(self) -> int:
        return self.capacity - self.load


def pick_agent(candidates: list[Candidate], preferred: str | None = None) -> str | None:
    """The agent to assign, or None when every available agent is full."""
    open_ = [c for c in candidates if c.free > 0]
    if not open_:
        return None
    if preferred is not None:
        for c in open_:
            if c.agent_id == preferred:
                return c.agent_id
    best = max(open_, key=lambda c: (c.free, -c.last_assigned_at))
    return best.agent_id


def wait_estimate(position: int, handling_ms: list[int], agents_online: int) -> int | None:
    """Seconds a visitor at `position` (1-based) may wait, or None when there is nothing to go on."""
    if not handling_ms or agents_online <= 0:
        return None
    median_secs = statistics.median(handling_ms) / 1000
    return max(1, math.ceil(position * median_secs / agents_online))


class Presence:
    """Which agents are connected to this node, and the status each chose.

    On several nodes, presence is shared through the bus (`presence` frames on the site topics); this
    registry is the local truth for the agents connected here.
    """

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.capacity: dict[str, int] = {}
        self.sockets: dict[str, int] = {}

    def connected(self, agent_id: str, status: str, capacity: int) -> None:
        self.sockets[agent_id] = self.sockets.get(agent_id, 0) + 1
        self.status[agent_id] = status
        self.capacity[agent_id] = capacity

    def disconnected(self, agent_id: str) -> bool:
        """Returns True when that was the agent's last socket (they are now offline)."""
        left = self.sockets.get(agent_id, 0) - 1
        if left <= 0:
            self.sockets.pop(agent_id, None)
            return True
        self.sockets[agent_id] = left
        return False

    def set(self, agent_id: str, status: str, capacity: int | None = None) -> None:
        self.status[agent_id] = status
        if capacity is not None:
            self.capacity[agent_id] = capacity

    def effective(self, agent_id: str) -> str:
        if agent_id not in self.sockets:
            return AgentStatus.OFFLINE.value
        return self.status.get(agent_id, AgentStatus.OFFLINE.value)

    def online(self, agent_ids: list[str]) -> list[str]:
        return [a for a in agent_ids if self.effective(a) == AgentStatus.ONLINE.value]
