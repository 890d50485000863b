"""The durable floor: the baseline relay, plus what "acknowledged means on disk" costs on our stack.

bench/baseline_relay.py stores nothing, so its ratio to Papote mixes two costs: durability (a commit
that reaches the disk before the ack, and the wake-ups around it) and Papote's own code (validation,
authorization, sessions, the pipeline, the richer protocol). This server pays the first and as little
as possible of the second, so that in the same run

    papote / durable   is what Papote's own code costs on top of durability, and
    durable / baseline  is what durability costs any server on this stack, our code or not.

What it adds to the relay, and nothing more: each `send` becomes one row in a SQLite file
(`synchronous=FULL`, WAL, as Papote's default) with its seq taken from the conversation's row and a
unique index on (conversation, client_msg_id) that answers a resend with the first seq; the fan-out
and the ack go out only once the commit returned. Commits are grouped: one writer thread drains
every job queued while the previous commit ran, commits them together and wakes the loop once per
batch (the cheapest scheme that keeps the loop serving while the disk flushes, which is why Papote
has a writer thread too: see docs/performance.md, "committing on the event loop"). The reader does
not wait for a commit before the connection's next frame, and frames are written in the turn that
decided them, as Papote's are (web/outgoing.py): a task per message would charge the floor a cost
Papote does not pay.

Left out on purpose, as in the relay: validation, authorization, sessions, heartbeats, outbox rows.

Run: ``DURABLE_DB=/tmp/x.db uvicorn --app-dir bench durable_relay:app --ws websockets-sansio
--ws-per-message-deflate false`` (bench/run.py does it, pinned to one core, on a fresh file).
"""

from __future__ import annotations

import asyncio
import collections
import os
import queue
import sqlite3
import tempfile
import threading
from collections import defaultdict
from typing import Any

import msgpack
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from baseline_relay import leave
from papote.web.outgoing import start_eagerly

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    conversation TEXT NOT NULL, seq INTEGER NOT NULL, client_msg_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (conversation, seq)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_dedupe ON messages (conversation, client_msg_id);
"""
#: Jobs one commit carries at most: a bound on the ack latency of the batch's first message.
BATCH_MAX = 512


class Socket:
    """One connection's outgoing frames: written in the turn that decided them (as Papote writes its
    own, web/outgoing.py), or queued behind a send that had to wait for the socket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._queue: collections.deque[bytes] = collections.deque()
        self._tail: asyncio.Task[None] | None = None
        self.gone = False

    def write(self, data: bytes) -> None:
        if self.gone:
            return
        if self._tail is not None:
            self._queue.append(data)
            return
        self._step(data)

    def _step(self, data: bytes) -> None:
        try:
            self._tail = start_eagerly(self.websocket.send_bytes(data))
        except Exception:  # the socket is closing; its own task cleans the room up
            self.gone = True
            return
        if self._tail is not None:
            self._tail.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tail = None
        if task.cancelled() or task.exception() is not None:
            self.gone = True
            return
        while self._queue and self._tail is None and not self.gone:
            self._step(self._queue.popleft())


Job = tuple[str, str, str, Socket, Any]


class Writer:
    """One connection, one thread, group commit; a send's fan-out and ack go out once it is on disk."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = self.writes = 0  # read by the bench, as Papote's /healthz `store`
        threading.Thread(target=self._run, name="durable-writer", daemon=True).start()

    def append(self, job: Job) -> None:
        self._loop = self._loop or asyncio.get_running_loop()
        self._jobs.put(job)

    def _run(self) -> None:
        db = self._db
        while True:
            batch = [self._jobs.get()]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            seqs: list[int] = []
            db.execute("BEGIN IMMEDIATE")
            for conversation, client_msg_id, body, _, _ in batch:
                row = db.execute(
                    "SELECT seq FROM messages WHERE conversation = ? AND client_msg_id = ?",
                    (conversation, client_msg_id),
                ).fetchone()
                if row is None:
                    (seq,) = db.execute(
                        "INSERT INTO conversations (id, last_seq) VALUES (?, 1) ON CONFLICT (id) "
                        "DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                        (conversation,),
                    ).fetchone()
                    db.execute("INSERT INTO messages VALUES (?, ?, ?, ?)", (conversation, seq, client_msg_id, body))
                    seqs.append(seq)
                else:
                    seqs.append(row[0])
            db.execute("COMMIT")
            self.commits += 1
            self.writes += len(batch)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_committed, batch, seqs)


def _committed(batch: list[Job], seqs: list[int]) -> None:
    """On the loop, once per commit: each send's fan-out, then its ack, in the order they came."""
    for (conversation, client_msg_id, body, sender, ref), seq in zip(batch, seqs, strict=True):
        out = _pack(
            {"t": "message", "conversation": conversation, "seq": seq, "client_msg_id": client_msg_id, "body": body}
        )
        for member in _rooms.get(conversation, ()):
            if member is not sender:
                member.write(out)
        sender.write(
            _pack({"t": "ack", "ref": ref, "client_msg_id": client_msg_id, "conversation": conversation, "seq": seq})
        )


_writer = Writer(os.environ.get("DURABLE_DB") or os.path.join(tempfile.mkdtemp(prefix="durable-"), "relay.db"))
_rooms: defaultdict[str, set[Socket]] = defaultdict(set)
_pack = msgpack.Packer().pack


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    socket = Socket(websocket)
    joined: list[str] = []
    try:
        while True:
            frame: dict[str, Any] = msgpack.unpackb(await websocket.receive_bytes())
            kind = frame.get("t")
            if kind == "send":
                # The reader goes on with the next frame while the commit runs (Papote does too).
                _writer.append((frame["conversation"], frame["client_msg_id"], frame["body"], socket, frame.get("ref")))
            elif kind == "join":
                for conversation in frame["rooms"]:
                    _rooms[conversation].add(socket)
                    joined.append(conversation)
                socket.write(_pack({"t": "joined", "ref": frame.get("ref")}))
            elif kind == "ping":
                socket.write(_pack({"t": "pong"}))
    except WebSocketDisconnect:
        pass
    finally:
        socket.gone = True
        leave(_rooms, joined, socket)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"store": {"commits": _writer.commits, "writes": _writer.writes}})


app = Starlette(routes=[WebSocketRoute("/ws", relay), Route("/healthz", healthz)])
