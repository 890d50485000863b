"""Who answers: the choice of an agent, the queue and its honest wait estimate.

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
