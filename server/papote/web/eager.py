"""Run a coroutine in the caller's turn of the loop, and only make it a task if it has to wait.

Writing a frame to a WebSocket is a coroutine (the ASGI `send`), but it almost never waits: the server
frames the bytes and hands them to the transport in one go, and waits only when the transport's buffer
is full. Giving each frame to a writer task costs a task wake-up per frame (two per message: the ack
and the fan-out), which the relay baseline does not pay. `start_eagerly` steps the coroutine at once;
the common case finishes there, and the rare one that waits is continued by a task, so nothing is lost
and the order of what it does is kept. (Python 3.12's eager task factory does this for every task; the
server runs on 3.11, and wants it for one call.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


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
