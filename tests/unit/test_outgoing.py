"""A socket's outgoing frames (sans socket): written in the turn that decided them, or queued behind what is ahead."""

from __future__ import annotations

import asyncio

import pytest

from papote.authz import Principal
from papote.connections import Connection
from papote.errors import CloseCode
from papote.protocol import Endpoint
from papote.types import PrincipalKind
from papote.web.outgoing import Outgoing, start_eagerly

pytestmark = pytest.mark.asyncio


async def test_a_coroutine_that_does_not_wait_finishes_in_the_callers_turn() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("written")

    assert start_eagerly(write()) is None
    assert done == ["written"]  # before the loop ran anything else


async def test_an_error_before_the_first_wait_reaches_the_caller() -> None:
    async def write() -> None:
        raise OSError("socket gone")

    with pytest.raises(OSError):
        start_eagerly(write())


async def test_a_coroutine_that_waits_is_finished_by_a_task_with_the_outcome_it_waited_for() -> None:
    drained: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def write() -> None:
        seen.append("framed")
        seen.append(await drained)
        await asyncio.sleep(0)  # a second wait, of another kind
        seen.append("written")

    tail = start_eagerly(write())
    assert tail is not None and seen == ["framed"]
    drained.set_result("drained")
    await asyncio.wait_for(tail, 10)
    assert seen == ["framed", "drained", "written"]


async def test_a_failed_wait_is_raised_inside_the_coroutine() -> None:
    drained: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def write() -> None:
        try:
            await drained
        except OSError as exc:
            caught.append(exc)

    tail = start_eagerly(write())
    assert tail is not None
    drained.set_exception(OSError("reset"))
    await asyncio.wait_for(tail, 10)
    assert [type(e) for e in caught] == [OSError]


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    drained: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def write() -> None:
        try:
            await drained
        finally:
            cleaned.append("finally ran")

    tail = start_eagerly(write())
    assert tail is not None
    await asyncio.sleep(0)  # the task is waiting on the future now
    tail.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(tail, 10)
    assert cleaned == ["finally ran"] and drained.cancelled()


class Socket:
    """Sends like uvicorn's WebSocket: at once while its buffer has room, else once it drains."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.broken = False
        #: The buffer fills again right after this frame is sent.
        self.full_after: bytes | None = None

    async def send(self, data: bytes) -> None:
        await self.writable.wait()
        if self.broken:
            raise OSError("connection reset")
        self.sent.append(data)
        if data == self.full_after:
            self.writable.clear()


def wired(socket: Socket, queue_limit: int = 4) -> tuple[Connection, Outgoing, asyncio.Task[None], list[CloseCode]]:
    """A connection whose frames go out through `Outgoing`, as web/live.py wires them."""
    closed: list[CloseCode] = []
    outgoing = Outgoing(socket.send, lambda: closed.append(CloseCode.NORMAL))
    conn = Connection(Principal(PrincipalKind.VISITOR, "v_1", site_id="s_1"), Endpoint.VISITOR, queue_limit,
                      lambda code, reason: closed.append(code))
    conn.write_now = outgoing.write_now
    return conn, outgoing, asyncio.get_running_loop().create_task(outgoing.drain(conn.queue)), closed


async def until_empty(queue: asyncio.Queue[bytes]) -> None:
    """Until the writer task has taken what was queued (a few turns of the loop, no clock involved)."""
    for _ in range(1000):
        if queue.empty():
            return
        await asyncio.sleep(0)
    raise AssertionError("the writer task never took the queued frame")


async def test_a_frame_with_nothing_ahead_is_written_before_the_loop_turns() -> None:
    socket = Socket()
    conn, _, drain, _ = wired(socket)
    conn.push(b"ack")
    conn.push(b"message")
    assert socket.sent == [b"ack", b"message"] and conn.queue.empty()
    drain.cancel()


async def test_frames_decided_while_a_send_waits_follow_it_in_order() -> None:
    socket = Socket()
    conn, outgoing, drain, closed = wired(socket)
    socket.writable.clear()  # the client stopped reading: the transport's buffer is full
    conn.push(b"1")  # its send starts and waits
    conn.push(b"2")  # queued behind it
    conn.push(b"3")
    assert socket.sent == [] and conn.queue.qsize() == 2
    socket.writable.set()
    await asyncio.wait_for(outgoing.flushed(conn.queue), 10)
    assert socket.sent == [b"1", b"2", b"3"] and not closed
    conn.push(b"4")  # nothing ahead any more: at once again
    assert socket.sent[-1] == b"4"
    drain.cancel()


async def test_a_frame_does_not_overtake_one_the_writer_task_is_sending() -> None:
    socket = Socket()
    conn, outgoing, drain, _ = wired(socket)
    socket.writable.clear()
    conn.push(b"1")  # waits as the tail
    conn.push(b"2")  # queued
    socket.full_after = b"1"
    socket.writable.set()
    # "1" leaves and the buffer is full again: the writer task has taken "2" off the queue and waits.
    await until_empty(conn.queue)
    assert socket.sent == [b"1"]
    conn.push(b"3")  # the queue is empty, but "2" is ahead of it
    socket.writable.set()
    await asyncio.wait_for(outgoing.flushed(conn.queue), 10)
    assert socket.sent == [b"1", b"2", b"3"]
    drain.cancel()


async def test_a_reader_that_never_drains_is_closed_as_a_slow_consumer() -> None:
    socket = Socket()
    conn, _, drain, closed = wired(socket, queue_limit=4)
    socket.writable.clear()
    for n in range(6):  # one waiting send, four queued, and one too many
        conn.push(b"%d" % n)
    assert closed == [CloseCode.SLOW_CONSUMER]
    drain.cancel()


async def test_a_socket_that_fails_a_send_is_reported_gone() -> None:
    socket = Socket()
    conn, _, drain, closed = wired(socket)
    socket.broken = True
    conn.push(b"ack")
    assert closed == [CloseCode.NORMAL]
    drain.cancel()
