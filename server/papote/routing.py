"""Who answers: the choice of an agent, the queue and its honest wait estimate.

The decisions here are pure functions of their inputs (tested without a server); `Chat` in
conversations.py does the I/O around them.

* An agent is *available* while connected with status `online` and below capacity.
* A new conversation goes to the available agent with the most free slots; ties go to the one idle
  longest (assigned least recently). A returning visitor goes back to their previous agent when that
  agent is available.
* A conversation handed to a group of agents (the site's `groups`, a bot handover naming one) goes
  only to that group's agents; while none of them has a slot it waits without holding up the others.
* When nobody is available the conversation waits in a first-in first-out queue per site. The visitor
  is told their position and an estimate (`wait_estimate`): the online agents handle `slots`
  conversations at once (the sum of their capacities), a conversation takes the site's smoothed
  handling time, so a slot frees every handling ÷ slots on average and the visitor's turn comes with
  the position-th. No history, no estimate: we say "unknown" rather than invent a number. Once told,
  a visitor's estimate never rises because the person ahead was served.
"""

from __future__ import annotations

import math
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


def pick_agent(candidates: list[Candidate], preferred: str | None = None,
               allowed: frozenset[str] | None = None) -> str | None:
    """The agent to assign, or None when every available agent is full. `allowed`: the agents of the
    group the conversation was handed to (the bot's handover to a group), None for anyone."""
    open_ = [c for c in candidates if c.free > 0 and (allowed is None or c.agent_id in allowed)]
    if not open_:
        return None
    if preferred is not None:
        for c in open_:
            if c.agent_id == preferred:
                return c.agent_id
    best = max(open_, key=lambda c: (c.free, -c.last_assigned_at))
    return best.agent_id


#: Weight of each newer handling time in the smoothed one: the last ten or so conversations count,
#: the newest most, so the estimate follows a slower afternoon without jumping at one long chat.
SMOOTHING = 0.2
#: A single handling time counts for at most this many times the smoothed value so far: one chat left
#: open over lunch moves the estimate a step, not to an hour.
OUTLIER_FACTOR = 3.0


def smoothed_handling(handling_ms: list[int]) -> float | None:
    """Seconds a conversation takes, exponentially smoothed over the site's latest handling times
    (given newest first, as the store reads them); None without any."""
    if not handling_ms:
        return None
    oldest_first = [ms / 1000 for ms in reversed(handling_ms)]
    value = oldest_first[0]
    for secs in oldest_first[1:]:
        value += SMOOTHING * (min(secs, OUTLIER_FACTOR * value) - value)
    return value


@dataclass(frozen=True)
class Told:
    """What a waiting visitor was last told: their place and estimate."""

    position: int
    wait_secs: int | None


def wait_estimate(position: int, slots: int, handling_secs: float | None,
                  previous: Told | None = None) -> int | None:
    """Seconds a visitor at `position` (1-based) may wait, or None when there is nothing to go on.

    `slots` is how many conversations the online agents handle at once (each agent's capacity, summed);
    `handling_secs` the smoothed handling time. `previous` is what this visitor was told last: when
    they moved up the line, the new estimate is at most the old one (a new long handling time or a
    reshuffle does not tell someone who just moved up that they now wait longer)."""
    if handling_secs is None or slots <= 0:
        return None
    fresh = max(1, math.ceil(position * handling_secs / slots))
    if previous is not None and previous.wait_secs is not None and position < previous.position:
        return min(fresh, previous.wait_secs)
    return fresh
