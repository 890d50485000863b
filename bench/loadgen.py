"""Load generator for Papote's benchmarks: conversations of one visitor and one agent connection.

Talks to three targets through one small adapter each:

* ``baseline``  bench/baseline_relay.py (join + send, msgpack)
* ``socketio``  bench/peer_socketio.py (Engine.IO 4 / Socket.IO 5 over a bare WebSocket, msgpack)
* ``papote``    the real server: visitor ``hello`` with the site key and an Origin header,
  ``resume``, ``send``; agents log in through ``POST /api/login`` and open ``/ws/agent`` with the
  session cookie, then ``claim`` their share of the conversations.

Modes (every one bounded in count and time, and it stops by itself):

* ``open``      open loop at a fixed total rate; latency send → delivered, delivered/sent, server
                CPU per delivered message over the recording window only.
* ``pingpong``  closed loop, ``window`` messages in flight per conversation: saturation throughput.
* ``idle``      open N sessions and hold them: server RSS per session and the handshake rate.
* ``resume``    papote only: every visitor drops at once while agents keep sending, then all
                reconnect and resume; checks that every acked message arrives once and in order.

Several nodes of one deployment (``--port`` and ``--server-pid`` given as comma-separated lists):
agents go to the nodes in turn, and each visitor to a node chosen like a load balancer without
affinity would (a third on its agent's node, two thirds elsewhere with three nodes), so most
messages cross the broker. CPU is the nodes' together, with the broker's (``--broker-pid``) and
PostgreSQL's backends for the benchmark's database (``--pg-database``) measured beside it.

The send time travels in the message body (``perf_counter_ns`` of this process, which both ends
of every conversation share), so no clock needs to be synchronised. The result is one JSON object
on stdout (and in ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import psutil
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

VISITOR = "v"
AGENT = "a"

# ~80-byte frames on the wire, like the reference measurements (docs/performance.md).
BODY_CHARS = 48
# Handshakes in flight while opening sessions; the reference method used 100.
CONNECT_CONCURRENCY = 100
# Papote closes a connection silent for 60 s (protocol §1); ping well inside that.
HEARTBEAT_SECS = 20.0
# Frames from the server are a few hundred bytes; a resume page of 1,000 messages is the largest.
MAX_FRAME_BYTES = 2**22
# The scheduler's tick: 1 ms keeps bursts at 5k msgs/s to ~5 frames.
TICK_SECS = 0.001
# A loopback frame not delivered after this long is counted lost rather than waited for.
DRAIN_SECS = 3.0

_pack = msgpack.Packer().pack

MessageHandler = Callable[["Conn", str, str, str, int], None]


def now_ns() -> int:
    return time.perf_counter_ns()


@dataclass
class Stats:
    """What one run measured; latencies are kept raw and summarised at the end."""

    sent: int = 0  # sent inside the recording window
    delivered: set[str] = field(default_factory=set)  # recorded client_msg_ids seen by the peer
    duplicates: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    ack_latencies_ns: list[int] = field(default_factory=list)
    deliveries_in_window: int = 0  # every delivery whose arrival fell in the window (pingpong)
    behind_max_ms: float = 0.0  # how far the open-loop scheduler fell behind its plan
    errors: list[str] = field(default_factory=list)


class _Listener(WSListener):  # type: ignore[misc]
    """Forwards picows callbacks to the Conn that owns the socket."""

    def __init__(self, conn: Conn) -> None:
        super().__init__()
        self.conn = conn

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.BINARY:
            self.conn.handle(frame.get_payload_as_bytes())
        elif kind == WSMsgType.TEXT:
            self.conn.handle(frame.get_payload_as_utf8_text())
        elif kind == WSMsgType.CLOSE:
            self.conn.closed_code = int(frame.get_close_code())
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.conn.connected = False


class Conn:
    """One WebSocket of one side. Subclasses speak a target's protocol.

    The socket is a picows client: its frame parser and masking are compiled, and sends are plain
    synchronous writes. A load generator written on the `websockets` asyncio client spent 82 % of
    its core at 5k msgs/s here, as much as the server it measured, so it could not saturate the
    baseline; picows keeps the load generator well below the server.
    """

    side: str
    transport: WSTransport

    def __init__(self, side: str) -> None:
        self.side = side
        self.on_message: MessageHandler | None = None
        self.on_ack: Callable[[str, str, int], None] | None = None
        self.connected = False
        self.closed_code: int | None = None
        self.ref = 0
        # seq numbers of `message` frames this connection received, in arrival order (resume check)
        self.seen: dict[str, list[int]] = {}

    async def connect(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.transport, _ = await ws_connect(
            lambda: _Listener(self),
            url,
            extra_headers=headers,
            websocket_handshake_timeout=60,
            max_frame_size=MAX_FRAME_BYTES,
        )
        self.connected = True
        self.closed_code = None

    def send(self, data: bytes | str) -> None:
        if not self.connected:
            raise ConnectionError("send on a closed connection")
        if isinstance(data, str):
            self.transport.send(WSMsgType.TEXT, data.encode())
        else:
            self.transport.send(WSMsgType.BINARY, data)

    def next_ref(self) -> int:
        self.ref += 1
        return self.ref

    def send_message(self, conversation: str, client_msg_id: str, body: str) -> None:
        raise NotImplementedError

    def heartbeat(self) -> None:
        """Keep the connection alive across long setups; targets without a need do nothing."""

    def handle(self, raw: bytes | str) -> None:
        raise NotImplementedError

    def deliver(self, conversation: str, client_msg_id: str, body: str, seq: int) -> None:
        if self.on_message is not None:
            self.on_message(self, conversation, client_msg_id, body, seq)

    async def close(self) -> None:
        if not self.connected:
            return
        self.transport.send_close(WSCloseCode.OK)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.transport.wait_disconnected(), 5)
        self.transport.disconnect()
        self.connected = False


# ---------------------------------------------------------------- baseline relay adapter


class BaselineConn(Conn):
    def __init__(self, side: str) -> None:
        super().__init__(side)
        self.waiter: asyncio.Future[dict[str, Any]] | None = None

    async def open(self, base: str, rooms: list[str]) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        await self.connect(f"ws://{base}/ws")
        self.send(_pack({"t": "join", "rooms": rooms}))
        await asyncio.wait_for(self.waiter, 30)

    def send_message(self, conversation: str, client_msg_id: str, body: str) -> None:
        self.send(
            _pack(
                {
                    "t": "send",
                    "ref": self.next_ref(),
                    "conversation": conversation,
                    "client_msg_id": client_msg_id,
                    "body": body,
                }
            )
        )

    def heartbeat(self) -> None:
        self.send(_pack({"t": "ping"}))

    def handle(self, raw: bytes | str) -> None:
        frame = msgpack.unpackb(raw)
        kind = frame["t"]
        if kind == "message":
            self.deliver(frame["conversation"], frame["client_msg_id"], frame["body"], frame["seq"])
        elif kind == "ack":
            if self.on_ack is not None:
                self.on_ack(frame["client_msg_id"], frame["conversation"], frame["seq"])
        elif kind == "joined" and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(frame)


# ---------------------------------------------------------------- python-socketio adapter

# Socket.IO packet types (protocol v5) and the Engine.IO text packets we must answer.
SIO_CONNECT, SIO_EVENT, SIO_ACK = 0, 2, 3
EIO_PING, EIO_PONG = "2", "3"


class SocketIOConn(Conn):
    def __init__(self, side: str) -> None:
        super().__init__(side)
        self.waiters: dict[int, asyncio.Future[Any]] = {}
        self.opened: asyncio.Future[None] | None = None  # Engine.IO OPEN, then Socket.IO CONNECT
        self.joined_ns: asyncio.Future[None] | None = None

    async def open(self, base: str, rooms: list[str]) -> None:
        loop = asyncio.get_running_loop()
        self.opened, self.joined_ns = loop.create_future(), loop.create_future()
        await self.connect(f"ws://{base}/socket.io/?EIO=4&transport=websocket")
        await asyncio.wait_for(self.opened, 30)
        self.send(_pack({"type": SIO_CONNECT, "nsp": "/"}))
        await asyncio.wait_for(self.joined_ns, 30)
        ref = self.next_ref()
        waiter = loop.create_future()
        self.waiters[ref] = waiter
        self.send(_pack({"type": SIO_EVENT, "nsp": "/", "data": ["join", rooms], "id": ref}))
        await asyncio.wait_for(waiter, 30)

    def send_message(self, conversation: str, client_msg_id: str, body: str) -> None:
        frame = {"conversation": conversation, "client_msg_id": client_msg_id, "body": body}
        self.send(_pack({"type": SIO_EVENT, "nsp": "/", "data": ["send", frame], "id": self.next_ref()}))

    def handle(self, raw: bytes | str) -> None:
        if isinstance(raw, str):
            if raw == EIO_PING:
                self.send(EIO_PONG)  # the server's heartbeat
            elif raw.startswith("0") and self.opened is not None and not self.opened.done():
                self.opened.set_result(None)
            return
        packet = msgpack.unpackb(raw)
        kind = packet["type"]
        if kind == SIO_EVENT:
            name, data = packet["data"][0], packet["data"][1]
            if name == "message":
                self.deliver(data["conversation"], data["client_msg_id"], data["body"], data["seq"])
        elif kind == SIO_ACK:
            waiter = self.waiters.pop(packet["id"], None)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(packet["data"])
            elif self.on_ack is not None:
                ack = packet["data"][0]
                self.on_ack(ack["client_msg_id"], ack["conversation"], ack["seq"])
        elif kind == SIO_CONNECT and self.joined_ns is not None and not self.joined_ns.done():
            self.joined_ns.set_result(None)


# ---------------------------------------------------------------- Papote adapter


async def http_login(host: str, port: int, email: str, password: str) -> str:
    """POST /api/login and return the Cookie header to send back.

    A raw HTTP/1.1 exchange keeps the load generator free of an HTTP client dependency; the
    server is on loopback and answers one request per connection.
    """
    body = json.dumps({"email": email, "password": password}).encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            (
                f"POST /api/login HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Origin: http://{host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            + body
        )
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()
    head, _, rest = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    if status != 200:
        raise RuntimeError(f"login {email}: HTTP {status} {rest[:200]!r}")
    cookies = [
        line.split(":", 1)[1].strip().split(";", 1)[0] for line in lines[1:] if line.lower().startswith("set-cookie:")
    ]
    if not cookies:
        raise RuntimeError(f"login {email}: no Set-Cookie")
    return "; ".join(cookies)


class PapoteConn(Conn):
    def __init__(self, side: str) -> None:
        super().__init__(side)
        self.waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.welcome: asyncio.Future[dict[str, Any]] | None = None
        self.history: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.token: str | None = None
        self.epoch = ""
        self.conversation: str | None = None  # a visitor's own conversation
        self.site = ""
        self.base = ""  # host:port of the node this connection last opened on

    async def open_visitor(self, base: str, site: str, origin: str) -> dict[str, Any]:
        self.welcome = asyncio.get_running_loop().create_future()
        self.site = site
        self.base = base
        await self.connect(f"ws://{base}/ws/visitor", {"Origin": origin})
        hello: dict[str, Any] = {"t": "hello", "v": 1, "site": site}
        if self.token is not None:
            hello["token"] = self.token
        self.send(_pack(hello))
        welcome = await asyncio.wait_for(self.welcome, 30)
        self.token = welcome.get("token") or self.token
        self.epoch = welcome["epoch"]
        return welcome

    async def open_agent(self, base: str, cookie: str) -> dict[str, Any]:
        self.welcome = asyncio.get_running_loop().create_future()
        self.base = base
        await self.connect(f"ws://{base}/ws/agent", {"Origin": f"http://{base}", "Cookie": cookie})
        self.send(_pack({"t": "hello", "v": 1}))
        welcome = await asyncio.wait_for(self.welcome, 30)
        self.epoch = welcome["epoch"]
        return welcome

    async def resume(self, conversations: dict[str, int]) -> None:
        for conversation in conversations:
            self.history[conversation] = asyncio.get_running_loop().create_future()
        self.send(_pack({"t": "resume", "epoch": self.epoch, "conversations": conversations}))

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a frame with a ref and wait for the ack/ok/error answering it."""
        ref = self.next_ref()
        waiter = asyncio.get_running_loop().create_future()
        self.waiters[ref] = waiter
        self.send(_pack({**frame, "ref": ref}))
        answer = await asyncio.wait_for(waiter, 30)
        if answer["t"] == "error":
            raise RuntimeError(f"{frame['t']} → {answer}")
        return answer

    def send_message(self, conversation: str, client_msg_id: str, body: str) -> None:
        self.send(
            _pack(
                {
                    "t": "send",
                    "ref": self.next_ref(),
                    "conversation": conversation,
                    "client_msg_id": client_msg_id,
                    "body": body,
                }
            )
        )

    def heartbeat(self) -> None:
        self.send(_pack({"t": "ping"}))

    def handle(self, raw: bytes | str) -> None:
        frame = msgpack.unpackb(raw)
        kind = frame.get("t")
        if kind == "message":
            if frame.get("kind") == "text" and frame.get("client_msg_id"):
                self.deliver(frame["conversation"], frame["client_msg_id"], frame["body"], frame["seq"])
            return
        ref = frame.get("ref")
        waiter = self.waiters.pop(ref, None) if ref is not None else None
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(frame)
        elif kind == "ack":
            if self.on_ack is not None:
                self.on_ack(frame["client_msg_id"], frame["conversation"], frame["seq"])
        elif kind == "history":
            for message in frame["messages"]:
                if message.get("kind") == "text" and message.get("client_msg_id"):
                    self.deliver(
                        message["conversation"],
                        message["client_msg_id"],
                        message["body"],
                        message["seq"],
                    )
            pending = self.history.get(frame["conversation"])
            if pending is not None and not pending.done():
                pending.set_result(frame)
        elif kind == "welcome" and self.welcome is not None and not self.welcome.done():
            self.welcome.set_result(frame)
        elif kind == "error":
            print(f"server error: {frame}", file=sys.stderr)


# ---------------------------------------------------------------- server-side sampling


def server_cpu_secs(pid: int) -> float:
    """utime+stime of the server and its children (all threads: the SQLite worker counts)."""
    total = 0.0
    with contextlib.suppress(psutil.NoSuchProcess):
        proc = psutil.Process(pid)
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = p.cpu_times()
                total += times.user + times.system
    return total


def server_rss_bytes(pid: int) -> int:
    total = 0
    with contextlib.suppress(psutil.NoSuchProcess):
        proc = psutil.Process(pid)
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
    return total


def thread_cpu_secs(pid: int) -> dict[int, float]:
    """CPU time of each thread of the server: how the event loop and the SQLite writer share it."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}
    return {}


def core_busy_secs() -> list[float]:
    """CPU time spent by processes on each core (user + nice + system), from /proc/stat.

    Interrupt and softirq time is left out: the kernel does not charge it to any process, and on
    loopback it is mostly our own traffic's network processing, not someone else's work.
    """
    busy = []
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith("cpu") and line[3].isdigit():
                fields = [int(x) for x in line.split()[1:4]]
                busy.append(sum(fields) / os.sysconf("SC_CLK_TCK"))
    return busy


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL's backend processes serving `database`, found by their process titles
    (``postgres: [cluster: ]user database host(port) activity``). The server is shared and not ours
    to pin or instrument: its WAL writer and checkpointer, which serve every database, are left out."""
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        title = " ".join(proc.info["cmdline"] or [])
        if not title.startswith("postgres: "):
            continue
        words = title[len("postgres: "):].split()
        if words and words[0].endswith(":"):  # Debian's cluster name, "15/main:"
            words = words[1:]
        if len(words) >= 2 and words[1] == database:
            pids.append(proc.pid)
    return pids


def processes_cpu_secs(pids: list[int]) -> dict[int, float]:
    """CPU time of each process (all its threads, no children), those gone left out.

    From /proc/PID/task/*/schedstat, in nanoseconds: the broker spends a few µs per message, so over
    a few seconds its utime + stime (10 ms ticks) would read one or two ticks."""
    out = {}
    for pid in pids:
        try:
            out[pid] = sum(
                int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()
            ) / 1e9
        except (OSError, ValueError, IndexError):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times = psutil.Process(pid).cpu_times()
                out[pid] = times.user + times.system
    return out


async def http_get_json(host: str, port: int, path: str) -> dict[str, Any]:
    """GET a JSON document (a node's /healthz) over one raw HTTP/1.1 exchange."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"GET {path} on {port}: {head[:100]!r}")
    document: dict[str, Any] = json.loads(body)
    return document


def percentile(sorted_values: list[int], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index] / 1e6  # ns → ms


def latency_summary(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": percentile(ordered, 0.50),
        "p99_ms": percentile(ordered, 0.99),
        "p999_ms": percentile(ordered, 0.999),
        "max_ms": ordered[-1] / 1e6 if ordered else float("nan"),
    }


# ---------------------------------------------------------------- the run


@dataclass
class Pair:
    conversation: str
    visitor: Conn
    agent: Conn


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ports: list[int] = args.ports
        self.pids: list[int] = args.server_pids
        self.bases = [f"{args.host}:{port}" for port in self.ports]
        self.base = self.bases[0]
        self.stats = Stats()
        # A fresh prefix per run: Papote dedupes on client_msg_id, so reusing ids across runs
        # against one database would turn sends into retries.
        self.run_id = uuid.uuid4().hex[:8]
        self.counter = 0
        self.record_start_ns = 0
        self.record_end_ns = 0
        self.pingpong = False
        self.draining = False
        self.all_delivered = asyncio.Event()
        self.ack_pending: dict[str, int] = {}
        self.pairs: list[Pair] = []
        self.conns: list[Conn] = []
        self.acked_seqs: dict[str, set[int]] = {}  # resume: conversation → acked agent seqs
        self.agent_sent: set[str] = set()  # resume: client_msg_ids the agents sent
        self.claim_conflicts = 0
        self.cores0: list[float] = []
        self.threads0: dict[int, float] = {}
        self.nodes0: list[float] = []
        self.extra0: dict[str, dict[int, float]] = {}
        self.health0: list[dict[str, Any]] = []

    # -- message ids and bodies

    def make_message(self, side: str) -> tuple[str, str, int]:
        self.counter += 1
        client_msg_id = f"b{self.run_id}{side}{self.counter}"
        sent_at = now_ns()
        stamp = str(sent_at)
        body = stamp + " " + "x" * max(0, BODY_CHARS - len(stamp) - 1)
        return client_msg_id, body, sent_at

    # -- callbacks

    def on_message(self, conn: Conn, conversation: str, client_msg_id: str, body: str, seq: int) -> None:
        conn.seen.setdefault(conversation, []).append(seq)
        if not client_msg_id.startswith(f"b{self.run_id}"):
            return
        sender_side = client_msg_id[9]
        if sender_side == conn.side:
            return  # an echo to the sender's own side (Papote fans out to the visitor's other tabs)
        arrived = now_ns()
        sent_at = int(body.split(" ", 1)[0])
        if self.record_start_ns <= sent_at < self.record_end_ns:
            if client_msg_id in self.stats.delivered:
                self.stats.duplicates += 1
            else:
                self.stats.delivered.add(client_msg_id)
                self.stats.latencies_ns.append(arrived - sent_at)
        if self.record_start_ns <= arrived < self.record_end_ns:
            self.stats.deliveries_in_window += 1
        if self.pingpong:
            self.send_one(conn, conversation)
        if self.draining and len(self.stats.delivered) >= self.stats.sent:
            self.all_delivered.set()

    def on_ack(self, client_msg_id: str, conversation: str, seq: int) -> None:
        sent_at = self.ack_pending.pop(client_msg_id, None)
        if sent_at is not None:
            self.stats.ack_latencies_ns.append(now_ns() - sent_at)
        if client_msg_id in self.agent_sent:
            self.acked_seqs.setdefault(conversation, set()).add(seq)

    def send_one(self, conn: Conn, conversation: str) -> None:
        client_msg_id, body, sent_at = self.make_message(conn.side)
        # Recorded by the same test as deliveries: the send time inside the window.
        if self.record_start_ns <= sent_at < self.record_end_ns:
            self.stats.sent += 1
            self.ack_pending[client_msg_id] = sent_at
        if self.args.mode == "resume" and conn.side == AGENT:
            self.agent_sent.add(client_msg_id)
        try:
            conn.send_message(conversation, client_msg_id, body)
        except ConnectionError:
            if self.args.mode != "resume":
                self.stats.errors.append(f"send on closed {conn.side} connection")

    def wire(self, conn: Conn) -> Conn:
        conn.on_message = self.on_message
        conn.on_ack = self.on_ack
        self.conns.append(conn)
        return conn

    # -- setup per target

    async def bounded(self, jobs: list[Awaitable[Any]]) -> list[Any]:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(job: Awaitable[Any]) -> Any:
            async with gate:
                return await job

        return await asyncio.gather(*(one(job) for job in jobs))

    def agent_of(self, index: int) -> int:
        return index % self.args.agents

    def agent_node(self, agent: int) -> int:
        return agent % len(self.bases)

    def visitor_node(self, index: int) -> int:
        """As a load balancer without affinity would place it: on its agent's node one time in N."""
        return (self.agent_node(self.agent_of(index)) + 1 + index) % len(self.bases)

    async def setup_relay(self, factory: type[BaselineConn] | type[SocketIOConn]) -> None:
        n, a = self.args.conversations, self.args.agents
        conversations = [f"c{self.run_id}{i}" for i in range(n)]
        agents = [self.wire(factory(AGENT)) for _ in range(a)]
        rooms: list[list[str]] = [[] for _ in range(a)]
        for i, conversation in enumerate(conversations):
            rooms[self.agent_of(i)].append(conversation)
        await self.bounded([agent.open(self.base, rooms[k]) for k, agent in enumerate(agents)])  # type: ignore[attr-defined]
        visitors = [self.wire(factory(VISITOR)) for _ in range(n)]
        await self.bounded(
            [v.open(self.base, [conversations[i]]) for i, v in enumerate(visitors)]  # type: ignore[attr-defined]
        )
        self.pairs = [Pair(conversations[i], visitors[i], agents[self.agent_of(i)]) for i in range(n)]

    async def setup_papote(self) -> None:
        args = self.args
        n, a = args.conversations, args.agents
        emails = args.agent_email.split(",")
        sites = args.site_key.split(",")
        cookies: list[str] = []
        for k in range(a):
            # One login per agent account; several sockets of one account would all receive the
            # account's conversations, so accounts are not shared between agent connections.
            port = self.ports[self.agent_node(k)]
            cookies.append(await http_login(args.host, port, emails[k % len(emails)], args.password))
        agents = [self.wire(PapoteConn(AGENT)) for _ in range(a)]
        await self.bounded([ag.open_agent(self.bases[self.agent_node(k)], cookies[k]) for k, ag in enumerate(agents)])
        await self.bounded([ag.resume({}) for ag in agents])
        visitors = [self.wire(PapoteConn(VISITOR)) for _ in range(n)]

        async def start_visitor(i: int, visitor: PapoteConn) -> None:
            site = sites[self.agent_of(i) % len(sites)]
            await visitor.open_visitor(self.bases[self.visitor_node(i)], site, args.origin)
            await visitor.resume({})
            client_msg_id, body, _ = self.make_message("s")  # setup traffic: never recorded
            ack = await visitor.request(
                {"t": "send", "conversation": None, "client_msg_id": client_msg_id, "body": body}
            )
            visitor.conversation = ack["conversation"]
            try:
                await agents[self.agent_of(i)].request({"t": "claim", "conversation": ack["conversation"]})
            except RuntimeError as refused:
                # Auto-routing may have assigned it to this same agent (the site's only one) between
                # our read and our claim; the server answers `conflict` for that race. Counted, and
                # the delivered ratio shows whether the conversation really reached its agent.
                if "conflict" not in str(refused):
                    raise
                self.claim_conflicts += 1

        await self.bounded([start_visitor(i, v) for i, v in enumerate(visitors)])
        self.pairs = [Pair(v.conversation or "", v, agents[self.agent_of(i)]) for i, v in enumerate(visitors)]

    async def setup(self) -> float:
        started = time.perf_counter()
        if self.args.target == "baseline":
            await self.setup_relay(BaselineConn)
        elif self.args.target == "socketio":
            await self.setup_relay(SocketIOConn)
        else:
            await self.setup_papote()
        return time.perf_counter() - started

    # -- modes

    async def heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECS * (0.8 + 0.4 * random.random()))
            for conn in list(self.conns):
                with contextlib.suppress(Exception):
                    conn.heartbeat()

    def senders(self) -> list[tuple[Conn, str]]:
        out: list[tuple[Conn, str]] = []
        for pair in self.pairs:
            if self.args.direction in ("both", "v2a"):
                out.append((pair.visitor, pair.conversation))
            if self.args.direction in ("both", "a2v"):
                out.append((pair.agent, pair.conversation))
        return out

    async def open_loop(self, seconds: float, senders: list[tuple[Conn, str]]) -> None:
        """Send at args.rate msgs/s in total for `seconds`, round-robin over the senders."""
        rate = self.args.rate
        start = now_ns()
        end = start + int(seconds * 1e9)
        sent = 0
        index = 0
        while True:
            current = now_ns()
            if current >= end:
                return
            due = int((current - start) * rate / 1e9) - sent
            if due > 1:
                behind_ms = (due - 1) / rate * 1e3
                self.stats.behind_max_ms = max(self.stats.behind_max_ms, behind_ms)
            for _ in range(due):
                conn, conversation = senders[index % len(senders)]
                index += 1
                self.send_one(conn, conversation)
            sent += due
            await asyncio.sleep(TICK_SECS)

    def extra_pids(self) -> dict[str, list[int]]:
        """Processes measured beside the nodes: the broker, PostgreSQL's backends for our database."""
        out: dict[str, list[int]] = {}
        if self.args.broker_pid:
            out["broker"] = [self.args.broker_pid]
        if self.args.pg_database:
            out["postgres"] = postgres_backends(self.args.pg_database)
        return out

    async def health(self) -> list[dict[str, Any]]:
        """Every node's /healthz (Papote's, and the durable relay's commit counts)."""
        if self.args.target != "papote" and not self.args.healthz:
            return []
        return list(await asyncio.gather(*(http_get_json(self.args.host, port, "/healthz") for port in self.ports)))

    async def begin_window(self) -> tuple[float, float, float]:
        self.health0 = await self.health()
        self.extra0 = {name: processes_cpu_secs(pids) for name, pids in self.extra_pids().items()}
        self.record_start_ns = now_ns()
        self.record_end_ns = self.record_start_ns + int(self.args.duration * 1e9)
        self.cores0 = core_busy_secs()
        self.threads0 = thread_cpu_secs(self.pids[0])
        self.nodes0 = [server_cpu_secs(pid) for pid in self.pids]
        # bench/profile.py starts sampling the server on this line.
        print("recording window begins", file=sys.stderr, flush=True)
        return sum(self.nodes0), time.process_time(), sum(self.cores0)

    async def end_window(self, cpu0: tuple[float, float, float]) -> dict[str, Any]:
        window = self.end_window_now(cpu0)
        # After the CPU reading: what the nodes hold and what crossed the broker during the window.
        health = await self.health()
        if health:
            window["connections_held"] = [h.get("connections", 0) for h in health]
            buses = [(h0.get("bus", {}), h1.get("bus", {})) for h0, h1 in zip(self.health0, health, strict=True)]
            window["bus"] = {key: sum(b1.get(key, 0) - b0.get(key, 0) for b0, b1 in buses)
                             for key in ("sent", "received", "dropped", "refused", "repairs", "repaired")}
            window["bus"]["kind"] = health[0].get("bus", {}).get("kind", "")
            # Group commit over the window: each commit pays one fsync, the cost no relay has.
            stores = [(h0.get("store", {}), h1.get("store", {})) for h0, h1 in zip(self.health0, health, strict=True)]
            window["store"] = {key: sum(s1.get(key, 0) - s0.get(key, 0) for s0, s1 in stores)
                               for key in ("commits", "writes")}
        return window

    def end_window_now(self, cpu0: tuple[float, float, float]) -> dict[str, Any]:
        wall = (now_ns() - self.record_start_ns) / 1e9
        nodes = [server_cpu_secs(pid) - before for pid, before in zip(self.pids, self.nodes0, strict=True)]
        server = sum(nodes)
        loadgen = time.process_time() - cpu0[1]
        # The broker and PostgreSQL's backends: CPU spent inside the window by the processes seen at
        # its start, plus the whole life of a backend that appeared meanwhile (a pool growing).
        extra: dict[str, float] = {}
        for name, pids in self.extra_pids().items():
            now = processes_cpu_secs(pids)
            before = self.extra0.get(name, {})
            extra[name] = sum(t - before.get(pid, 0.0) for pid, t in now.items())
        # Whatever else ran on the box meanwhile (other engineers' test suites): a run with much
        # of it is noisy, and the table says so.
        cores = core_busy_secs()
        others = sum(cores) - cpu0[2] - server - loadgen - sum(extra.values())
        # The server is pinned to core 0 and the load generator to core 1: whatever else ran on
        # each core is the disturbance (other processes may use either core). The broker is pinned
        # with the nodes; PostgreSQL's backends run where the kernel puts them, so their time is
        # taken off core 0's leftover first, then core 1's: it is the measurement, not a disturbance.
        core_used = [b - a for a, b in zip(self.cores0, cores, strict=True)]
        left = [core_used[0] - server - extra.get("broker", 0.0), core_used[1] - loadgen]
        postgres = extra.get("postgres", 0.0)
        on_core0 = min(max(0.0, left[0]), postgres)
        left = [left[0] - on_core0, left[1] - (postgres - on_core0)]
        return {
            "window_secs": wall,
            "server_cpu_secs": server,
            "nodes_cpu_secs": nodes,
            "extra_cpu_secs": extra,
            "loadgen_cpu_secs": loadgen,
            "others_cpu_pct": max(0.0, others / wall * 100),
            "others_on_server_core_pct": max(0.0, left[0] / wall * 100),
            "others_on_loadgen_core_pct": max(0.0, left[1] / wall * 100),
            # Busiest first; for Papote the first is the event loop, the second the SQLite writer.
            "server_threads_cpu_pct": sorted(
                (
                    round((t - self.threads0.get(tid, 0.0)) / wall * 100, 1)
                    for tid, t in thread_cpu_secs(self.pids[0]).items()
                ),
                reverse=True,
            )[:4],
        }

    async def run_open(self) -> dict[str, Any]:
        senders = self.senders()
        await self.open_loop(self.args.warmup, senders)
        cpu0 = await self.begin_window()
        logins = asyncio.create_task(self.login_storm()) if self.args.logins else None
        await self.open_loop(self.args.duration, senders)
        window = await self.end_window(cpu0)
        await self.drain()
        result = self.summary(window)
        result["offered_rate"] = self.args.rate
        if logins is not None:
            result["login_secs"] = await logins
        return result

    async def login_storm(self) -> list[float]:
        """Fire args.logins concurrent agent logins a third into the recording window."""
        await asyncio.sleep(self.args.duration / 3)
        emails = self.args.agent_email.split(",")

        async def one(k: int) -> float:
            started = time.perf_counter()
            await http_login(self.args.host, self.ports[k % len(self.ports)], emails[k % len(emails)],
                             self.args.password)
            return time.perf_counter() - started

        return list(await asyncio.gather(*(one(k) for k in range(self.args.logins))))

    async def drain(self) -> None:
        self.draining = True
        if len(self.stats.delivered) < self.stats.sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_delivered.wait(), DRAIN_SECS)

    async def run_pingpong(self) -> dict[str, Any]:
        self.pingpong = True
        for pair in self.pairs:
            for _ in range(self.args.window):
                self.send_one(pair.visitor, pair.conversation)
        await asyncio.sleep(self.args.warmup)
        cpu0 = await self.begin_window()
        await asyncio.sleep(self.args.duration)
        window = await self.end_window(cpu0)
        self.pingpong = False
        await asyncio.sleep(0.5)  # let in-flight frames land before the sockets close
        result = self.summary(window)
        result["throughput"] = self.stats.deliveries_in_window / window["window_secs"]
        return result

    def summary(self, window: dict[str, Any]) -> dict[str, Any]:
        delivered = len(self.stats.delivered)
        deliveries = self.stats.deliveries_in_window if self.args.mode == "pingpong" else delivered
        per_msg = {f"{name}_cpu_us_per_msg": secs / deliveries * 1e6 if deliveries else float("nan")
                   for name, secs in window["extra_cpu_secs"].items()}
        return {
            **per_msg,
            "deliveries_in_window": self.stats.deliveries_in_window,
            "nodes_cpu_pct": [secs / window["window_secs"] * 100 for secs in window["nodes_cpu_secs"]],
            "nodes_rss_mib": [server_rss_bytes(pid) / 2**20 for pid in self.pids],
            **window,
            "sent": self.stats.sent,
            "delivered": delivered,
            "delivered_ratio": delivered / self.stats.sent if self.stats.sent else float("nan"),
            "duplicates": self.stats.duplicates,
            "delivered_per_sec": deliveries / window["window_secs"],
            "server_cpu_us_per_msg": window["server_cpu_secs"] / deliveries * 1e6 if deliveries else float("nan"),
            "server_cpu_pct": window["server_cpu_secs"] / window["window_secs"] * 100,
            **({"commits_per_msg": window["store"]["commits"] / deliveries} if "store" in window and deliveries
               else {}),
            "loadgen_cpu_pct": window["loadgen_cpu_secs"] / window["window_secs"] * 100,
            "latency": latency_summary(self.stats.latencies_ns),
            "ack_latency": latency_summary(self.stats.ack_latencies_ns),
            "scheduler_behind_max_ms": self.stats.behind_max_ms,
            "server_rss_mib": sum(server_rss_bytes(pid) for pid in self.pids) / 2**20,
            "errors": self.stats.errors[:20],
        }

    async def run_idle(self) -> dict[str, Any]:
        """Open args.conversations visitor sessions and hold them; RSS per session."""
        args = self.args
        rss0 = sum(server_rss_bytes(pid) for pid in self.pids)
        started = time.perf_counter()
        conns: list[Conn] = []
        if args.target == "papote":

            async def one_visitor(i: int) -> None:
                conn = self.wire(PapoteConn(VISITOR))
                await conn.open_visitor(self.bases[i % len(self.bases)], args.site_key.split(",")[0], args.origin)
                await conn.resume({})
                conns.append(conn)

            await self.bounded([one_visitor(i) for i in range(args.conversations)])
        else:
            factory = BaselineConn if args.target == "baseline" else SocketIOConn

            async def one_relay(i: int) -> None:
                conn = self.wire(factory(VISITOR))
                await conn.open(self.base, [f"c{self.run_id}{i}"])
                conns.append(conn)

            await self.bounded([one_relay(i) for i in range(args.conversations)])
        ramp = time.perf_counter() - started
        # Let the server settle (allocator, GC), then count what holding the sessions costs it: the
        # second half of the hold is the window (timers, pings, the reaper; no message moves).
        await asyncio.sleep(args.duration / 2)
        cpu0, window0 = sum(server_cpu_secs(pid) for pid in self.pids), time.perf_counter()
        await asyncio.sleep(args.duration / 2)
        idle_cpu_pct = (sum(server_cpu_secs(pid) for pid in self.pids) - cpu0) / (time.perf_counter() - window0) * 100
        rss1 = sum(server_rss_bytes(pid) for pid in self.pids)
        alive = sum(1 for c in conns if c.connected)
        return {
            "sessions": len(conns),
            "alive_after_hold": alive,
            "ramp_secs": ramp,
            "connects_per_sec": len(conns) / ramp if ramp else float("nan"),
            "rss_before_mib": rss0 / 2**20,
            "rss_after_mib": rss1 / 2**20,
            "kib_per_session": (rss1 - rss0) / 1024 / max(1, len(conns)),
            "idle_cpu_pct": idle_cpu_pct,
        }

    async def run_resume(self) -> dict[str, Any]:
        """All visitors drop together while agents keep sending, then reconnect and resume."""
        args = self.args
        agent_senders = [(p.agent, p.conversation) for p in self.pairs]
        await self.open_loop(args.warmup, agent_senders)
        # Where each visitor is: the highest seq it saw (its own setup message counts).
        visitors = [p.visitor for p in self.pairs]
        traffic = asyncio.create_task(self.open_loop(args.drop + args.duration, agent_senders))
        await asyncio.gather(*(v.close() for v in visitors))
        last_seq = {p.conversation: max(p.visitor.seen.get(p.conversation, [1])) for p in self.pairs}
        before = {p.conversation: list(p.visitor.seen.get(p.conversation, [])) for p in self.pairs}
        await asyncio.sleep(args.drop)
        reconnect_start = time.perf_counter()
        resumed_after: list[float] = []

        async def back(pair: Pair) -> None:
            visitor = pair.visitor
            assert isinstance(visitor, PapoteConn)
            visitor.seen = {}
            # With several nodes it comes back on the next one: a resume on a node it never used.
            node = (self.bases.index(visitor.base) + 1) % len(self.bases)
            await visitor.open_visitor(self.bases[node], visitor.site, args.origin)
            await visitor.resume({pair.conversation: last_seq[pair.conversation]})
            await asyncio.wait_for(visitor.history[pair.conversation], 30)
            resumed_after.append(time.perf_counter() - reconnect_start)

        # All at once, as after a network blip: no handshake gate here, that is the point.
        outcomes = await asyncio.gather(*(back(p) for p in self.pairs), return_exceptions=True)
        failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        await traffic
        await asyncio.sleep(1.0)  # the last sends' fan-out
        # Verify: every seq the agents got acked must reach the visitor exactly once, in order.
        missing = duplicates = out_of_order = 0
        examples: list[dict[str, list[int]]] = []  # arrival order of seqs, for the report
        acked_seqs = self.acked_seqs
        for pair in self.pairs:
            after = pair.visitor.seen.get(pair.conversation, [])
            received = before[pair.conversation] + after
            if any(b <= a for a, b in itertools.pairwise(received)):
                out_of_order += 1
                if len(examples) < 3:
                    examples.append({"before_drop": before[pair.conversation][-3:], "after": after[:12]})
            duplicates += len(received) - len(set(received))
            missing += len(acked_seqs.get(pair.conversation, set()) - set(received))
        ordered = sorted(resumed_after)
        return {
            "visitors": len(self.pairs),
            "resumed": len(resumed_after),
            "failures": failures[:10],
            "resume_p50_secs": ordered[len(ordered) // 2] if ordered else float("nan"),
            "resume_max_secs": ordered[-1] if ordered else float("nan"),
            "acked_messages": sum(len(s) for s in acked_seqs.values()),
            "missing": missing,
            "duplicates": duplicates,
            "conversations_out_of_order": out_of_order,
            "out_of_order_examples": examples,
        }

    async def main(self) -> dict[str, Any]:
        setup_secs = await self.setup() if self.args.mode != "idle" else 0.0
        beat = asyncio.create_task(self.heartbeats())
        try:
            if self.args.mode == "open":
                result = await self.run_open()
            elif self.args.mode == "pingpong":
                result = await self.run_pingpong()
            elif self.args.mode == "idle":
                result = await self.run_idle()
            else:
                result = await self.run_resume()
        finally:
            beat.cancel()
        result.update(
            target=self.args.target,
            mode=self.args.mode,
            conversations=self.args.conversations,
            agents=self.args.agents,
            connections=len(self.conns),
            setup_secs=setup_secs,
            claim_conflicts=self.claim_conflicts,
        )
        await asyncio.gather(*(c.close() for c in self.conns), return_exceptions=True)
        return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=["baseline", "socketio", "papote"], required=True)
    p.add_argument("--mode", choices=["open", "pingpong", "idle", "resume"], default="open")
    p.add_argument("--healthz", type=int, default=0, help="1: read /healthz around the window (not Papote too)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", required=True, help="the server's port, or every node's, comma-separated")
    p.add_argument("--server-pid", required=True, help="for CPU time and RSS from /proc (one per port)")
    p.add_argument("--broker-pid", type=int, default=0, help="the bus's broker: CPU time in the window")
    p.add_argument("--pg-database", default="", help="PostgreSQL database: its backends' CPU in the window")
    p.add_argument("--conversations", type=int, default=100)
    p.add_argument("--agents", type=int, default=0, help="agent connections (0: one per conversation)")
    p.add_argument("--rate", type=float, default=1000.0, help="total msgs/s (open, resume)")
    p.add_argument("--direction", choices=["both", "v2a", "a2v"], default="both")
    p.add_argument("--window", type=int, default=8, help="in flight per conversation (pingpong)")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=6.0, help="recording window, seconds")
    p.add_argument("--drop", type=float, default=1.0, help="resume: seconds the visitors stay away")
    p.add_argument("--logins", type=int, default=0, help="open: concurrent logins mid-window")
    p.add_argument("--site-key", default="", help="comma-separated, one per agent account")
    p.add_argument("--origin", default="http://shop.bench.test")
    p.add_argument("--agent-email", default="", help="comma-separated agent accounts (papote)")
    p.add_argument("--password", default="")
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    args.ports = [int(x) for x in args.port.split(",")]
    args.server_pids = [int(x) for x in args.server_pid.split(",")]
    if len(args.ports) != len(args.server_pids):
        p.error("one --server-pid per --port")
    if args.agents <= 0:
        args.agents = args.conversations
    # Bounded by construction: refuse loads the shared machine should not take.
    if args.duration > 60 or args.warmup > 30 or args.conversations > 10_000:
        p.error("bounded loads only: duration ≤ 60 s, warmup ≤ 30 s, ≤ 10,000 conversations")
    return args


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    run = Run(args)
    return await asyncio.wait_for(run.main(), timeout=args.warmup + args.duration + 240)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(amain(args))
    text = json.dumps(result, default=str)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    print(text)
    sys.stdout.flush()
    os._exit(0)  # don't wait for half-closed sockets of an overloaded server


if __name__ == "__main__":
    main()
