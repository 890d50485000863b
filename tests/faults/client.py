"""A small Papote protocol client for the fault tests: a visitor and an agent over real sockets.

It follows docs/protocol.md the way the widget does (hello → welcome → resume → send, reconnect
with the visitor token and resume from the last seq it saw), and records what the tests check:
every ack received, every message seen, in order. It retries nothing by itself; the tests decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

# A loopback answer slower than this means the server is down or stuck; the test then reconnects.
ANSWER_SECS = 10.0


def ws_url(base_url: str, path: str) -> str:
    return base_url.replace("http://", "ws://", 1).rstrip("/") + path


class Closed(Exception):
    """The socket closed (or never opened) while a call was waiting for its answer."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"connection closed with {code}")
        self.code = code


@dataclass
class Ack:
    client_msg_id: str
    conversation: str
    seq: int


class Session:
    """One WebSocket: a reader task files answers by `ref` and queues everything else."""

    def __init__(self) -> None:
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.close_code: int | None = None
        self.ref = 0

    async def open(self, url: str, headers: dict[str, str]) -> None:
        origin = headers.pop("Origin", None)
        self.ws = await connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            open_timeout=ANSWER_SECS,
            max_size=2**22,
        )
        self.close_code = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                frame = msgpack.unpackb(raw)
                waiter = self.pending.pop(frame.get("ref"), None) if "ref" in frame else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                else:
                    self.frames.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            for waiter in self.pending.values():
                if not waiter.done():
                    waiter.set_exception(Closed(self.close_code))
            self.pending.clear()
            self.frames.put_nowait({"t": "_closed", "code": self.close_code})

    async def send_raw(self, data: bytes | str) -> None:
        if self.ws is None:
            raise Closed(None)
        try:
            await self.ws.send(data)
        except ConnectionClosed as exc:
            raise Closed(self.close_code) from exc

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a frame with a fresh ref; return the frame answering it (ack, ok or error)."""
        self.ref += 1
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.ref] = waiter
        await self.send_raw(msgpack.packb({**frame, "ref": self.ref}))
        try:
            return await asyncio.wait_for(waiter, ANSWER_SECS)
        except TimeoutError:
            raise Closed(None) from None

    async def next_frame(self, kind: str) -> dict[str, Any]:
        """The next unsolicited frame of type `kind` (others are dropped)."""
        async with asyncio.timeout(ANSWER_SECS):
            while True:
                frame = await self.frames.get()
                if frame["t"] == kind:
                    return frame
                if frame["t"] == "_closed":
                    raise Closed(frame["code"])

    async def next_frame_any(self) -> dict[str, Any]:
        """The next unsolicited frame, whatever its type; Closed if the socket ended."""
        async with asyncio.timeout(ANSWER_SECS):
            frame = await self.frames.get()
        if frame["t"] == "_closed":
            raise Closed(frame["code"])
        return frame

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.reader, ANSWER_SECS)


@dataclass
class Visitor:
    """A widget: keeps its token, the store epoch and the last seq it saw per conversation."""

    base_url: str
    site_key: str
    origin: str
    token: str | None = None
    epoch: str = ""
    conversation: str | None = None
    last_seq: dict[str, int] = field(default_factory=dict)
    #: seqs of text messages seen (live or replayed), in arrival order, per conversation
    seen: dict[str, list[int]] = field(default_factory=dict)
    session: Session = field(default_factory=Session)

    async def connect(self) -> dict[str, Any]:
        self.session = Session()
        await self.session.open(ws_url(self.base_url, "/ws/visitor"), {"Origin": self.origin})
        hello: dict[str, Any] = {"t": "hello", "v": 1, "site": self.site_key}
        if self.token:
            hello["token"] = self.token
        await self.session.send_raw(msgpack.packb(hello))
        welcome = await self.session.next_frame("welcome")
        self.token = welcome.get("token") or self.token
        self.epoch = welcome["epoch"]
        return welcome

    async def resume(self) -> list[dict[str, Any]]:
        """Resume every known conversation; return the history frames, one per conversation."""
        wanted = dict(self.last_seq)
        await self.session.send_raw(msgpack.packb({"t": "resume", "epoch": self.epoch, "conversations": wanted}))
        pages = []
        for _ in wanted:
            page = await self.session.next_frame("history")
            for message in page["messages"]:
                self.observe(message)
            pages.append(page)
        return pages

    def observe(self, message: dict[str, Any]) -> None:
        conversation = message["conversation"]
        self.seen.setdefault(conversation, []).append(message["seq"])
        self.last_seq[conversation] = max(self.last_seq.get(conversation, 0), message["seq"])

    async def send(self, client_msg_id: str, body: str) -> Ack:
        answer = await self.session.request(
            {
                "t": "send",
                "conversation": self.conversation,
                "client_msg_id": client_msg_id,
                "body": body,
            }
        )
        if answer["t"] != "ack":
            raise AssertionError(f"send {client_msg_id} answered {answer}")
        self.conversation = answer["conversation"]
        self.last_seq[answer["conversation"]] = max(self.last_seq.get(answer["conversation"], 0), answer["seq"])
        return Ack(answer["client_msg_id"], answer["conversation"], answer["seq"])


async def login(base_url: str, email: str, password: str) -> str:
    """POST /api/login; return the Cookie header value for /ws/agent."""
    host_port = base_url.split("://", 1)[1].rstrip("/")
    host, _, port = host_port.partition(":")
    body = json.dumps({"email": email, "password": password}).encode()
    reader, writer = await asyncio.open_connection(host, int(port or 80))
    try:
        writer.write(
            (
                f"POST /api/login HTTP/1.1\r\nHost: {host_port}\r\n"
                f"Origin: {base_url.rstrip('/')}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            + body
        )
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), ANSWER_SECS)
    finally:
        writer.close()
    head = response.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    if head[0].split()[1] != "200":
        raise AssertionError(f"login failed: {head[0]}")
    return "; ".join(
        line.split(":", 1)[1].strip().split(";", 1)[0] for line in head[1:] if line.lower().startswith("set-cookie:")
    )


async def open_agent(base_url: str, cookie: str) -> tuple[Session, dict[str, Any]]:
    session = Session()
    await session.open(ws_url(base_url, "/ws/agent"), {"Origin": base_url.rstrip("/"), "Cookie": cookie})
    await session.send_raw(msgpack.packb({"t": "hello", "v": 1}))
    return session, await session.next_frame("welcome")
