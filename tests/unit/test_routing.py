from __future__ import annotations

import pytest

from papote.presence import Presence
from papote.routing import OUTLIER_FACTOR, SMOOTHING, Candidate, Told, pick_agent, smoothed_handling, wait_estimate


def test_most_free_slots_wins() -> None:
    agents = [Candidate("a", 3, 5, 0), Candidate("b", 1, 5, 0), Candidate("c", 0, 2, 0)]
    assert pick_agent(agents) == "b"


def test_ties_go_to_the_agent_idle_longest() -> None:
    agents = [Candidate("a", 1, 3, 2000), Candidate("b", 1, 3, 1000)]
    assert pick_agent(agents) == "b"


def test_returning_visitor_goes_back_to_their_agent_when_free() -> None:
    agents = [Candidate("a", 4, 5, 0), Candidate("b", 0, 5, 0)]
    assert pick_agent(agents, preferred="a") == "a"
    full = [Candidate("a", 5, 5, 0), Candidate("b", 0, 5, 0)]
    assert pick_agent(full, preferred="a") == "b"


def test_everyone_full_means_queue() -> None:
    assert pick_agent([Candidate("a", 2, 2, 0)]) is None
    assert pick_agent([]) is None


def test_wait_estimate_is_honest() -> None:
    assert wait_estimate(1, 5, None) is None  # no history, no invented number
    assert wait_estimate(1, 0, 60.0) is None  # nobody online: no slot will free
    assert smoothed_handling([]) is None


def test_the_estimate_counts_free_slots_not_heads() -> None:
    """Two agents with 5 slots each handle 10 chats at once: one ends every 30 s when a chat takes 5 min."""
    assert wait_estimate(1, 10, 300.0) == 30
    assert wait_estimate(3, 10, 300.0) == 90
    assert wait_estimate(3, 2, 300.0) == 450  # the same line with one slot each
    assert wait_estimate(1, 10, 0.2) == 1  # never "0 s"


def test_handling_time_is_smoothed_newest_first() -> None:
    assert smoothed_handling([120_000]) == 120
    steady = smoothed_handling([60_000] * 20)
    assert steady == pytest.approx(60)
    # One very long chat (newest) moves the estimate a step, not to its own length.
    after_lunch = smoothed_handling([3_600_000] + [60_000] * 20)
    assert after_lunch is not None and 60 < after_lunch < 60 * (1 + SMOOTHING * OUTLIER_FACTOR)
    # The newest count more than the oldest.
    recent_slow = smoothed_handling([300_000] * 5 + [60_000] * 5)
    recent_fast = smoothed_handling([60_000] * 5 + [300_000] * 5)
    assert recent_slow is not None and recent_fast is not None and recent_slow > recent_fast


def test_the_estimate_never_rises_when_the_person_ahead_is_served() -> None:
    """#3 at "about 1 min" must not become #2 at "about 5 min" (issue 14 §4.3)."""
    slots = 2
    handling = smoothed_handling([60_000, 60_000, 60_000])
    assert handling is not None
    told = Told(3, wait_estimate(3, slots, handling))
    assert told.wait_secs == 90
    # The chat that just ended to free the slot ran long: the smoothed time goes up.
    longer = smoothed_handling([1_500_000, 60_000, 60_000, 60_000])
    assert longer is not None and longer > handling
    now = wait_estimate(2, slots, longer, told)
    assert now is not None and told.wait_secs is not None and now <= told.wait_secs
    # Without moving up the line (an agent went offline), a rise is the truth and is said.
    assert wait_estimate(3, 1, handling, told) == 180
    # And moving up with a steady handling time lowers it as expected.
    assert wait_estimate(2, slots, handling, told) == 60



def test_presence_counts_sockets() -> None:
    p = Presence()
    p.connected("a", "online", 3)
    p.connected("a", "online", 3)
    assert p.online(["a", "b"]) == ["a"]
    assert not p.disconnected("a")
    assert p.disconnected("a")
    assert p.effective("a") == "offline"
    p.connected("b", "away", 3)
    assert p.online(["b"]) == []


def test_a_group_limits_the_choice_to_its_agents() -> None:
    roomy, busy = Candidate("a_roomy", 0, 5, 0), Candidate("a_busy", 1, 2, 0)
    assert pick_agent([roomy, busy]) == "a_roomy"
    assert pick_agent([roomy, busy], allowed=frozenset({"a_busy"})) == "a_busy"
    # The group's agents are full: nobody, even with others free (the conversation waits for its group).
    assert pick_agent([roomy, Candidate("a_busy", 2, 2, 0)], allowed=frozenset({"a_busy"})) is None
    # A preference outside the group does not get through.
    assert pick_agent([roomy, busy], preferred="a_roomy", allowed=frozenset({"a_busy"})) == "a_busy"
