"""The append path of the PostgreSQL store: lanes of group commit, each one call of `papote_append`
per batch (migrations/: 0005 stores the common batch set-based, 0002-0003 message by message).

A lane is one dedicated connection and a queue. Whenever the lane is idle, everything waiting in it
(up to `MAX_BATCH`) leaves as one batch: one statement, one round trip, one transaction, one commit,
whatever its size; appends that arrive while it is in flight wait for the next batch. Futures are
resolved in the turn of the loop that learns of the COMMIT, in the order queued, so the fan-out of a
message never precedes its commit and one caller's appends come back in the order it sent them.

A conversation always goes to the same lane (its id hashed; a first message, which names none, by
its author), so its appends are stored in the order queued; several lanes keep several batches in
flight at once, for throughput the round trip would otherwise bound. Across lanes and nodes the
function's row locks keep every conversation's seqs contiguous.

Failures: a batch the server refused as a whole (a deadlock with another node's batch, a value the
database cannot take) rolled back entirely, so it is safe to resend: it goes again element by
element, and only the guilty element fails. A batch whose connection was lost has an unknown
outcome: its appends fail with `Busy` (never acknowledged; a client's retry finds the first copy if
it was committed), and the lane connects afresh for its next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from papote.errors import Busy, Conflict, NotFound
from papote.ids import new_id, now_ms
from papote.store import Appended, Message
from papote.store.postgres.connection import CONNECTION_LOST, ClientDataError, dumps
from papote.store.postgres.rows import AUTHOR, KIND, conv_of, insert_delivery
from papote.store.rules import AppendPlan, is_retry, reopened_event

log = logging.getLogger("papote.store")

#: Appends per call. A bigger batch amortises the round trip and the commit further, but delays the
#: first ack of the batch, and holds its conversations' locks longer.
MAX_BATCH = 256
#: A whole batch refused for a deadlock is sent again this many times before it goes element by element.
DEADLOCK_RETRIES = 2

APPEND_SQL = "SELECT * FROM papote_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"

Pending = tuple[AppendPlan, "asyncio.Future[Appended]"]


def _arguments(plans: list[AppendPlan], now: int) -> list[Any]:
    news = [p.new for p in plans]
    return [
        [n.conversation_id for n in news],
        [n.site_id for n in news],
        [n.visitor_id for n in news],
        [(n.new_conversation_id or new_id("c")) if n.conversation_id is None else None for n in news],
        [str(n.author_kind) for n in news],
        [n.author_id for n in news],
        [n.author_name for n in news],
        [str(n.kind) for n in news],
        [n.body for n in news],
        [n.client_msg_id for n in news],
        [n.event for n in news],
        [dumps(n.data) if n.data is not None else None for n in news],
        [p.first_response for p in plans],
        [p.reopens for p in plans],
        now,
    ]


def outcome_of(plan: AppendPlan, row: Any, now: int) -> tuple[bool, Any]:
    """One row of `papote_append` as the caller's outcome: (True, Appended) or (False, the error)."""
    new = plan.new
    kind = row[0]
    if kind == "missing":
        return False, NotFound("no such conversation" if new.conversation_id else "no conversation to write to")
    conversation = conv_of(row, 14, snoozed=False)
    if kind == "existing":
        first = Message(row[3], row[4], KIND[row[5]], AUTHOR[row[6]], row[7], row[8], row[9], row[10], row[11],
                        row[12], row[13])
        try:
            is_retry(first, new)
        except Conflict as exc:
            return False, exc
        return True, Appended(first, conversation, duplicate=True)
    cid, seq = row[3], row[4]
    message = Message(cid, seq, new.kind, new.author_kind, new.author_id, new.author_name, new.client_msg_id,
                      new.body, new.event, new.data, now)
    # The last column (migration 0003): the reopened event's data, naming who had the conversation.
    had = (row[29] or {}).get("assignee") if row[2] is not None else None
    reopened = reopened_event(cid, row[2], new, now, assignee_id=had) if row[2] is not None else None
    return True, Appended(message, conversation, created=bool(row[1]), reopened=reopened)


def _settle(future: asyncio.Future[Appended], outcome: tuple[bool, Any]) -> None:
    if future.done():
        return  # its caller gave up on it
    if outcome[0]:
        future.set_result(outcome[1])
    else:
        future.set_exception(outcome[1])


class Lane:
    def __init__(self, index: int, connect: Callable[[], Awaitable[asyncpg.Connection]],
                 settled: Callable[[], None]) -> None:
        self.index = index
        self._connect = connect
        #: Called once a batch's futures are resolved (Store.on_settled).
        self._settled = settled
        self._conn: asyncpg.Connection | None = None
        self.waiting: deque[Pending] = deque()
        self.running = False  # a batch is in flight or about to leave
        self.idle = asyncio.Event()
        self.idle.set()
        #: How well group commit batches (tests and the bench read them).
        self.batches = 0
        self.appends = 0

    def submit(self, plan: AppendPlan) -> asyncio.Future[Appended]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Appended] = loop.create_future()
        self.waiting.append((plan, future))
        if not self.running:
            self.running = True
            self.idle.clear()
            # On the next turn: what is queued in this one joins the batch.
            loop.call_soon(self._start)
        return future

    def _start(self) -> None:
        count = min(len(self.waiting), MAX_BATCH)
        batch = [self.waiting.popleft() for _ in range(count)]
        asyncio.get_running_loop().create_task(self._run(batch), name=f"papote-append-lane-{self.index}")

    async def _run(self, batch: list[Pending]) -> None:
        try:
            await self._store(batch)
        except BaseException as exc:  # never leave a caller waiting
            log.exception("append batch of %d failed", len(batch))
            for _, future in batch:
                _settle(future, (False, exc if isinstance(exc, Exception) else Busy()))
            if not isinstance(exc, Exception):
                raise
        finally:
            self._settled()
            if self.waiting:
                self._start()
            else:
                self.running = False
                self.idle.set()

    async def _call(self, plans: list[AppendPlan], now: int) -> list[Any]:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        if not any(p.new.deliveries for p in plans):
            return list(await self._conn.fetch(APPEND_SQL, *_arguments(plans, now)))
        # Messages with sends (replies on a messaging channel): their deliveries are written in the
        # batch's own transaction, with the seq each message took (a retry, "existing", queues none).
        async with self._conn.transaction():
            rows = list(await self._conn.fetch(APPEND_SQL, *_arguments(plans, now)))
            for plan, row in zip(plans, rows, strict=True):
                if row[0] == "stored":
                    for delivery in plan.new.deliveries:
                        delivery.conversation_id, delivery.seq = row[3], row[4]
                        await insert_delivery(self._conn, delivery)
            return rows

    async def _store(self, batch: list[Pending]) -> None:
        plans = [plan for plan, _ in batch]
        now = now_ms()
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                rows = await self._call(plans, now)
            except ClientDataError:
                break
            except CONNECTION_LOST:
                log.warning("database connection of append lane %d lost; %d appends fail", self.index,
                            len(batch), exc_info=True)
                await self._drop()
                for _, future in batch:
                    _settle(future, (False, Busy("the database connection was lost; retry in a moment")))
                return
            except asyncpg.exceptions.DeadlockDetectedError:
                if attempt < DEADLOCK_RETRIES:
                    continue
                break
            except asyncpg.PostgresError:
                break
            self.batches += 1
            self.appends += len(batch)
            for (plan, future), row in zip(batch, rows, strict=True):
                _settle(future, outcome_of(plan, row, now))
            return
        # Refused as a whole, so nothing of it was written: element by element, each on its own.
        for plan, future in batch:
            try:
                [row] = await self._call([plan], now)
            except ClientDataError as exc:
                log.warning("append refused before it was sent: %s", exc)
                _settle(future, (False, exc))
            except CONNECTION_LOST:
                await self._drop()
                _settle(future, (False, Busy("the database connection was lost; retry in a moment")))
            except asyncpg.PostgresError as exc:
                log.warning("append refused by the database: %s", exc)
                _settle(future, (False, exc))
            else:
                self.batches += 1
                self.appends += 1
                _settle(future, outcome_of(plan, row, now))

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def close(self) -> None:
        await self.idle.wait()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


class Lanes:
    """The append lanes of one node."""

    def __init__(self, count: int, connect: Callable[[], Awaitable[asyncpg.Connection]],
                 settled: Callable[[], None]) -> None:
        self.lanes = [Lane(i, connect, settled) for i in range(count)]
        self._closing = False

    def submit(self, plan: AppendPlan) -> asyncio.Future[Appended]:
        if self._closing:
            raise RuntimeError("store is not open")
        new = plan.new
        key = new.conversation_id if new.conversation_id is not None else new.author_id
        return self.lanes[zlib.crc32(key.encode()) % len(self.lanes)].submit(plan)

    @property
    def batches(self) -> int:
        return sum(lane.batches for lane in self.lanes)

    @property
    def appends(self) -> int:
        return sum(lane.appends for lane in self.lanes)

    async def close(self) -> None:
        """Write what is queued, then close the lanes' connections."""
        self._closing = True
        await asyncio.gather(*(lane.close() for lane in self.lanes))
