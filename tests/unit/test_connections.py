"""A connection's hold of live frames while a resume reads the history (sans socket)."""

from __future__ import annotations

import pytest

from papote.authz import Principal
from papote.bus import BusEvent
from papote.connections import Connection
from papote.events import MessageAppended, ReadMarked
from papote.protocol import Endpoint, decode
from papote.store import Message
from papote.types import PrincipalKind


def visitor_connection() -> Connection:
    return Connection(Principal(PrincipalKind.VISITOR, "v_1", site_id="s_1"), Endpoint.VISITOR, 64,
                      lambda code, reason: None)


def live(seq: int) -> BusEvent:
    return BusEvent(MessageAppended(Message("c_1", seq, "text", "visitor", "v_1", "", None, str(seq), None,
                                            None, 0)))


def queued_seqs(conn: Connection) -> list[int]:
    seqs = []
    while not conn.queue.empty():
        seqs.append(decode(conn.queue.get_nowait(), 1 << 16)["seq"])
    return seqs


@pytest.mark.asyncio
async def test_the_welcome_grace_timer_leaves_a_resume_in_progress_alone() -> None:
    conn = visitor_connection()
    conn.hold_until_resume(["c_1"])
    conn.resume_started("c_1")
    conn.listen("conversation:c_1", live(5))
    conn.listen("conversation:c_1", live(6))
    # The grace timer fires (or the client sends another frame) while the history is being read:
    # releasing now would put 5 and 6 before a history that holds them too.
    conn.release_all()
    assert queued_seqs(conn) == []
    # The history reached seq 5: only 6 follows it, once.
    conn.release("c_1", 5)
    assert queued_seqs(conn) == [6]
    assert not conn.holding and not conn.resuming


@pytest.mark.asyncio
async def test_a_client_that_does_not_resume_gets_its_held_frames() -> None:
    conn = visitor_connection()
    conn.hold_until_resume(["c_1"])
    conn.listen("conversation:c_1", live(3))
    conn.release_all()
    assert queued_seqs(conn) == [3]


@pytest.mark.asyncio
async def test_a_message_fanned_out_after_the_history_that_had_it_is_not_sent_twice() -> None:
    conn = visitor_connection()
    conn.resume_started("c_1")
    conn.listen("conversation:c_1", BusEvent(ReadMarked("c_1", {"kind": "agent", "id": "a_1"}, 3)))
    # Seq 7 was committed before the history read and is in it; its fan-out comes after the release.
    conn.release("c_1", 7)
    conn.listen("conversation:c_1", live(7))
    conn.listen("conversation:c_1", live(8))
    frames = []
    while not conn.queue.empty():
        frames.append(decode(conn.queue.get_nowait(), 1 << 16))
    assert [(f["t"], f["seq"]) for f in frames] == [("read", 3), ("message", 8)]


@pytest.mark.asyncio
async def test_a_copy_of_a_message_acknowledged_on_this_socket_is_not_sent_back_to_it() -> None:
    """A resent message is acked with its first copy's seq; that copy's publication (from the socket
    that sent it before a reconnect, or a gap repair's read of the store) reaches the new socket after
    the ack: it is not sent to it again. Other sockets of the visitor still get it."""
    conn, other = visitor_connection(), visitor_connection()
    conn.acknowledged("c_1", 10)
    for each in (conn, other):
        each.listen("conversation:c_1", BusEvent(live(10).event, origin="old-node.17"))
        each.listen("conversation:c_1", live(11))
    assert queued_seqs(conn) == [11]
    assert queued_seqs(other) == [10, 11]
    conn.acknowledged("c_1", 12)
    conn.listen("conversation:c_1", live(12))  # read back by a gap repair: no origin
    assert queued_seqs(conn) == []


@pytest.mark.asyncio
async def test_a_socket_remembers_a_bounded_number_of_acks() -> None:
    conn = visitor_connection()
    for seq in range(1, 1001):
        conn.acknowledged("c_1", seq)
    assert len(conn.acked) == 64
    conn.listen("conversation:c_1", live(1))  # long forgotten: a copy this late goes out
    conn.listen("conversation:c_1", live(1000))
    assert queued_seqs(conn) == [1]
