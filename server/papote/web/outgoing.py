"""A socket's outgoing frames: written in the turn that decided them, or queued behind what is ahead.

Writing a frame to a WebSocket is a coroutine (the ASGI `send`), but it almost never waits: the server
frames the bytes and hands them to the transport in one go, and waits only when the transport's buffer
is full. Giving every frame to a writer task cost a task wake-up per frame (two per message: the ack
and the fan-out), which the relay baseline does not pay. So `Outgoing.write_now` steps the send at once
(`start_eagerly`); the rare send that has to wait is finished by a task, and every frame decided after
it goes to the connection's bounded queue, which the writer task (`Outgoing.drain`) sends in order
behind it. Frames leave in the order they were decided, and a stalled reader still fills the queue and
is closed as a slow consumer (connections.py). (Python 3.12's eager task factory steps every task like
this; the server runs on 3.11 and wants it for one call.) On uvicorn's Sans-I/O protocol, "written at
once" means framed at once, and the frames of one turn leave in one write per socket (turn_writes.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from papote.web.turn_writes import DirectSocket, SocketGone

#: Sends one frame: the ASGI send of a `websocket.send` message, as a coroutine not yet started.
Send = Callable[[bytes], Coroutine[Any, Any, None]]


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Step `coro` now. None if it finished (an exception it raised propagates); else the task that
    finishes it."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_finish(coro, waiting_on))


async def _finish(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Go on with a coroutine suspended on `waiting_on` (what its `await` yielded: a future, or None for
    a bare yield), exactly as a task would have: wait for it, then resume, until the coroutine returns."""
    while True:
        if waiting_on is None:
            await asyncio.sleep(0)
        else:
            # A future marks itself "blocking" when it yields, and the task that receives it clears the
            # mark (asyncio's protocol between futures and tasks); we received it, so we clear it, or
            # awaiting it again here would be refused as "await wasn't used with future".
            waiting_on._asyncio_future_blocking = False
            try:
                await waiting_on
            except (Exception, asyncio.CancelledError):
                # The coroutine reads the future's outcome itself when resumed (a cancellation of this
                # task cancelled that future, so it reaches the coroutine as CancelledError, as in a task).
                pass
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return


class Outgoing:
    """The frames of one socket on their way out. `gone()` is called when the socket failed a send."""

    def __init__(self, send: Send, gone: Callable[[], None], direct: DirectSocket | None = None) -> None:
        self._send = send
        self._gone = gone
        #: The socket's framer, when the server has one we can reach (web/turn_writes.py).
        self._direct = direct
        #: True while `drain` hands a queued frame to the socket: nothing may overtake it.
        self._draining = False
        #: A frame written at once whose send had to wait for the socket: what follows queues behind it.
        self._tail: asyncio.Task[None] | None = None

    def write_now(self, data: bytes) -> bool:
        """Write `data` in this turn of the loop if nothing is ahead of it (the caller checked that its
        queue is empty). False: a queued frame or a waiting send is ahead, so `data` must queue."""
        if self._draining or self._tail is not None:
            return False
        direct = self._direct
        if direct is not None:
            try:
                if direct.write(data):
                    return True
            except SocketGone:
                self._gone()
                return True
            # The transport asked to pause: the ASGI send below waits for it, and what follows queues.
        try:
            tail = start_eagerly(self._send(data))
        except Exception:  # OSError, or starlette's WebSocketDisconnect for it
            self._gone()
            return True
        if tail is not None:  # the socket's buffer is full: the rest of this send waits in a task
            self._tail = tail
            tail.add_done_callback(self._tail_sent)
        return True

    def _tail_sent(self, tail: asyncio.Task[None]) -> None:
        if self._tail is tail:
            self._tail = None
        if not tail.cancelled() and tail.exception() is not None:
            self._gone()

    async def drain(self, queue: asyncio.Queue[bytes]) -> None:
        """The writer task: send what queued, in order, behind a waiting send. Returns when the socket
        fails (after `gone()`); cancel it to stop."""
        try:
            while True:
                data = await queue.get()
                self._draining = True
                if self._tail is not None:
                    await asyncio.wait((self._tail,))
                await self._send(data)
                self._draining = False
                queue.task_done()
        except Exception:  # OSError, or starlette's WebSocketDisconnect for it
            self._gone()

    async def flushed(self, queue: asyncio.Queue[bytes]) -> None:
        """Until everything decided so far has been handed to the socket (before a close frame)."""
        await queue.join()
        if self._tail is not None:
            await asyncio.wait((self._tail,))
