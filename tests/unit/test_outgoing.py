"""A socket's outgoing frames (sans socket): written in the turn that decided them, or queued behind what is ahead."""

from __future__ import annotations

import asyncio
import socket
from unittest.mock import Mock

import pytest
import uvloop
from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.protocol import State
from websockets.server import ServerProtocol

from papote.authz import Principal
from papote.connections import Connection
from papote.errors import CloseCode
from papote.protocol import Endpoint
from papote.types import PrincipalKind
from papote.web.outgoing import Outgoing, start_eagerly
from papote.web.turn_writes import FLUSHER, SERVER_SEND, DirectSocket, Flusher

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


# -- one write per socket and turn (web/turn_writes.py), on websockets' own Sans-I/O framer ---------------


class WebSocketsSansIOProtocol:
    """What `DirectSocket.of` looks behind the server's `send`: uvicorn's protocol, with websockets'
    real framer in the open state and a transport that records its writes."""

    def __init__(self) -> None:
        self.conn = ServerProtocol(state=State.OPEN)
        self.transport = RecordingTransport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = False
        self.close_sent = False
        self.handshake_complete = True

    async def send(self, message: dict[str, object]) -> None:
        """uvicorn's `websocket.send`: wait while paused, frame, write what the framer holds."""
        await self.writable.wait()
        data = message["bytes"]
        assert isinstance(data, bytes)
        self.conn.send_binary(data)
        self.transport.write(b"".join(self.conn.data_to_send()))


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False


def payloads(writes: list[bytes]) -> list[bytes]:
    """The binary frames in what was written, in order (a client's framer reads them back)."""
    reader = ClientProtocol(Mock(), state=State.OPEN)
    reader.receive_data(b"".join(writes))
    return [bytes(frame.data) for frame in reader.events_received() if isinstance(frame, Frame)]


def direct_outgoing(protocol: WebSocketsSansIOProtocol, gone: list[str]) -> tuple[Outgoing, Flusher]:
    flusher = Flusher()
    direct = DirectSocket.of({SERVER_SEND: protocol.send, FLUSHER: flusher})
    assert direct is not None
    return Outgoing(lambda data: protocol.send({"type": "websocket.send", "bytes": data}),
                    lambda: gone.append("gone"), direct), flusher


async def test_a_turns_frames_leave_in_one_write_in_the_order_decided() -> None:
    protocol = WebSocketsSansIOProtocol()
    out, flusher = direct_outgoing(protocol, [])
    for n in range(5):
        assert out.write_now(b"frame %d" % n)
    assert protocol.transport.writes == []  # framed, not yet written: the turn is not over
    await asyncio.sleep(0)
    assert len(protocol.transport.writes) == 1
    assert payloads(protocol.transport.writes) == [b"frame %d" % n for n in range(5)]
    assert flusher.stats() == {"frames": 5, "writes": 1}


async def test_a_send_of_the_slow_path_takes_the_framed_frames_with_it_first() -> None:
    protocol = WebSocketsSansIOProtocol()
    out, _ = direct_outgoing(protocol, [])
    assert out.write_now(b"first")
    await protocol.send({"type": "websocket.send", "bytes": b"second"})  # a queued frame, or a ping
    await asyncio.sleep(0)  # the turn's flush finds nothing left
    assert payloads(protocol.transport.writes) == [b"first", b"second"]
    assert len(protocol.transport.writes) == 1


async def test_a_paused_transport_sends_through_asgi_which_waits_and_what_follows_queues() -> None:
    protocol = WebSocketsSansIOProtocol()
    out, _ = direct_outgoing(protocol, [])
    assert out.write_now(b"framed")
    protocol.writable.clear()  # the transport's buffer is full
    assert out.write_now(b"waits")  # taken by the ASGI send, which waits in a task
    assert not out.write_now(b"behind")  # something is ahead: the caller queues it
    await asyncio.sleep(0)
    assert payloads(protocol.transport.writes) == [b"framed"]
    protocol.writable.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert payloads(protocol.transport.writes) == [b"framed", b"waits"]


async def test_a_closing_socket_is_gone() -> None:
    protocol = WebSocketsSansIOProtocol()
    gone: list[str] = []
    out, _ = direct_outgoing(protocol, gone)
    protocol.close_sent = True
    assert out.write_now(b"too late")
    assert gone == ["gone"] and protocol.transport.writes == []


async def test_another_server_has_no_direct_path() -> None:
    async def send(message: dict[str, object]) -> None:
        pass

    assert DirectSocket.of({SERVER_SEND: send, FLUSHER: Flusher()}) is None
    assert DirectSocket.of({}) is None


async def test_an_armed_flush_runs_behind_the_settled_callbacks_before_the_next_poll() -> None:
    """The store arms the flush when it resolves a commit's futures (Store.on_settled): the frames their
    callbacks write leave in that same round, not after uvloop's next poll for I/O (where frames that
    arrived meanwhile would be read and dispatched first). On uvloop, the server's loop: asyncio's own
    runs a callback scheduled by a callback before polling anyway."""

    async def round_trip() -> tuple[int, list[bytes]]:
        loop = asyncio.get_running_loop()
        protocol = WebSocketsSansIOProtocol()
        out, flusher = direct_outgoing(protocol, [])
        ready, reader = socket.socketpair()
        written_at_poll: list[int] = []

        def polled() -> None:
            reader.recv(16)
            written_at_poll.append(len(protocol.transport.writes))

        loop.add_reader(reader, polled)
        def finish(n: int) -> None:  # a send's completion: it frames its ack, and a frame arrives
            out.write_now(b"ack %d" % n)
            ready.send(b"x")  # the next poll sees it

        futures = [loop.create_future() for _ in range(3)]
        for n, future in enumerate(futures):
            future.add_done_callback(lambda _, n=n: finish(n))

        def settle() -> None:  # what the store does in the round that learns of a commit
            for future in futures:
                future.set_result(None)
            flusher.arm()

        loop.call_soon(settle)
        deadline = loop.time() + 10  # a round or two; generous for a busy machine
        while loop.time() < deadline:
            if written_at_poll and protocol.transport.writes:
                break
            await asyncio.sleep(0.001)
        loop.remove_reader(reader)
        ready.close()
        reader.close()
        return written_at_poll[0], protocol.transport.writes

    at_poll, writes = await asyncio.to_thread(uvloop.run, round_trip())
    assert payloads(writes) == [b"ack 0", b"ack 1", b"ack 2"] and len(writes) == 1
    assert at_poll == 1, "the flush waited for the next poll"
