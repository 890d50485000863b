"""The SQLite writer's own thread: one connection, calls run one at a time, in the order given.

A call's outcome comes back to the event loop as a plain callback (`loop.call_soon_threadsafe`), not
through a future a task must wake up for: the store settles a committed batch in the very turn of the
loop that learns of it, and the next batch leaves at once. (aiosqlite, used before for the writer too,
resolved a future that a writer task awaited; the store called its private `_execute` to run a whole
batch in one hop. Latency and CPU measured the same within this machine's noise.)
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")

#: A call's outcome: (True, value) or (False, the exception it raised).
Outcome = tuple[bool, Any]

_STOP = None


def resolve(future: asyncio.Future[Any], outcome: Outcome) -> None:
    """Give `future` the outcome of a call, unless its caller gave up on it already."""
    if future.done():
        return
    if outcome[0]:
        future.set_result(outcome[1])
    else:
        future.set_exception(outcome[1])


class WriterThread:
    def __init__(self, path: str) -> None:
        self.path = path
        self._calls: SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Callable[[Outcome], None]] | None]
        self._calls = SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None

    async def start(self) -> None:
        """Open the connection in the thread (SQLite connections stay with the thread that made them)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="papote-sqlite-writer", daemon=True)
        self._thread.start()
        await self._loop.run_in_executor(None, self._ready.wait)
        if self._open_error is not None:
            raise self._open_error

    def submit(self, fn: Callable[[sqlite3.Connection], Any], done: Callable[[Outcome], None]) -> None:
        """Run `fn(connection)` in the thread; `done(outcome)` is then called on the event loop."""
        self._calls.put((fn, done))

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._loop is not None
        future: asyncio.Future[T] = self._loop.create_future()
        self.submit(fn, lambda outcome: resolve(future, outcome))
        return await future

    async def stop(self) -> None:
        """Let the calls already submitted run, then close the connection and end the thread."""
        if self._thread is None or self._loop is None:
            return
        self._calls.put(_STOP)
        await self._loop.run_in_executor(None, self._thread.join)
        self._thread = None

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except BaseException as exc:
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        loop = self._loop
        assert loop is not None
        try:
            while True:
                item = self._calls.get()
                if item is _STOP:
                    return
                fn, done = item
                try:
                    outcome: Outcome = (True, fn(conn))
                except BaseException as exc:
                    outcome = (False, exc)
                try:
                    loop.call_soon_threadsafe(done, outcome)
                except RuntimeError:
                    return  # the loop is closed: nobody is waiting any more
        finally:
            conn.close()
