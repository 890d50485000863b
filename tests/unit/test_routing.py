from __future__ import annotations

from papote.presence import Presence
from papote.routing import Candidate, pick_agent, wait_estimate


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
    assert wait_estimate(1, [], 2) is None  # no history, no invented number
    assert wait_estimate(2, [60_000, 120_000, 180_000], 2) == 120
    assert wait_estimate(1, [60_000], 0) is None


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
