"""Presence across nodes, without sockets: local sockets, other nodes' snapshots, their expiry."""

from __future__ import annotations

from papote.events import NodePresence
from papote.presence import TTL_SECS, Presence


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_agent_on_another_node_counts_and_ages_out_with_it() -> None:
    clock = Clock()
    a, b = Presence("node-a", clock), Presence("node-b", clock)
    b.connected("lea", "online", 4)
    assert a.heard(b.snapshot()) == {"lea"}
    assert a.online(["lea", "max"]) == ["lea"]
    assert a.capacity_of("lea", 3) == 4  # the capacity chosen where she is connected
    assert a.nodes() == ["node-a", "node-b"]
    assert a.heard(b.snapshot()) == set()  # a heartbeat that changes nothing moves nothing
    clock.now += TTL_SECS - 1
    assert a.expire() == set()
    clock.now += 2  # node-b went silent (killed): its agents leave everywhere
    assert a.effective("lea") == "offline"
    assert a.expire() == {"lea"}
    assert a.nodes() == ["node-a"]
    assert a.capacity_of("lea", 3) == 3


def test_own_echo_is_ignored_and_a_change_is_reported() -> None:
    clock = Clock()
    a, b = Presence("node-a", clock), Presence("node-b", clock)
    a.connected("lea", "online", 3)
    assert a.heard(a.snapshot()) == set()
    b.connected("max", "online", 3)
    a.heard(b.snapshot())
    b.set("max", "away")
    assert a.heard(b.snapshot()) == {"max"}
    assert a.effective("max") == "away"
    assert b.disconnected("max")
    assert a.heard(b.snapshot()) == {"max"}
    assert a.effective("max") == "offline"


def test_an_agent_on_two_nodes_is_as_available_as_their_best_tab() -> None:
    clock = Clock()
    a, b = Presence("node-a", clock), Presence("node-b", clock)
    a.connected("lea", "away", 3)
    b.connected("lea", "online", 3)
    a.heard(b.snapshot())
    assert a.effective("lea") == "online"
    # Closing the tab on node-a leaves her online through node-b: not offline.
    assert not a.disconnected("lea")
    assert a.effective("lea") == "online"


def test_garbage_in_a_snapshot_is_skipped() -> None:
    a = Presence("node-a", Clock())
    bad = NodePresence("node-x", {"ok": ["online", 2], "bad": ["online"], "worse": "x"}, 1e9)  # type: ignore[dict-item]
    assert a.heard(bad) == {"ok"}
    assert a.online(["ok", "bad", "worse"]) == ["ok"]


def test_local_changes_are_announced_once_each() -> None:
    a = Presence("node-a", Clock())
    calls: list[int] = []
    a.on_local_change = lambda: calls.append(1)
    a.connected("lea", "online", 3)
    a.connected("lea", "online", 3)
    a.set("lea", "away")
    a.disconnected("lea")
    a.disconnected("lea")
    assert len(calls) == 4  # the second socket counts too: the snapshot is the same, cheap to resend
    assert a.snapshot().agents == {}
