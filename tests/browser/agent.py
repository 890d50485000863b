"""An agent for the browser tests: signs in over REST, then speaks the protocol on `/ws/agent`.

The widget is what these tests drive; the agent on the other end only needs to see the visitor's
messages, answer, and close a conversation, so it stays a small protocol client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

# Everything runs on loopback: an answer slower than this means something is broken.
ANSWER_SECS = 10.0

Frame = dict[str, Any]


class Agent:
    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.ws: ClientConnection | None = None
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()
        self.seen: list[Frame] = []
        self.welcome: Frame = {}
        self._refs = itertools.count(1)
        self._answers: dict[int, asyncio.Future[Frame]] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def sign_in(cls, base_url: str, email: str, password: str) -> Agent:
        http = httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url.rstrip("/")})
        response = await http.post("/api/login", json={"email": email, "password": password})
        response.raise_for_status()
        return cls(base_url, http)

    async def connect(self) -> Frame:
        cookie = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        url = self.base_url.replace("http", "ws", 1) + "/ws/agent"
        self.ws = await connect(
            url,
            origin=self.base_url,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            ping_interval=None,
            open_timeout=ANSWER_SECS,
        )
        self._reader = asyncio.create_task(self._read())
        await self.ws.send(msgpack.packb({"t": "hello", "v": 1}))
        self.welcome = await self.next("welcome")
        await self.request({"t": "status", "status": "online"})
        return self.welcome

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = msgpack.unpackb(raw)
                self.seen.append(frame)
                waiter = self._answers.pop(frame.get("ref"), None) if "ref" in frame else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                else:
                    self.frames.put_nowait(frame)

    async def send(self, frame: Frame) -> None:
        """Sends a frame that gets no answer (typing, read)."""
        assert self.ws is not None
        await self.ws.send(msgpack.packb(frame))

    async def request(self, frame: Frame) -> Frame:
        """Sends with a fresh ref; returns the ack, ok or error that answers it."""
        assert self.ws is not None
        ref = next(self._refs)
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._answers[ref] = waiter
        await self.ws.send(msgpack.packb({**frame, "ref": ref}))
        return await asyncio.wait_for(waiter, ANSWER_SECS)

    async def next(self, kind: str, where: Callable[[Frame], bool] = lambda f: True) -> Frame:
        """The next frame of this type matching `where` (others are skipped)."""
        async with asyncio.timeout(ANSWER_SECS):
            while True:
                frame = await self.frames.get()
                if frame["t"] == kind and where(frame):
                    return frame

    async def visitor_message(self, body: str) -> Frame:
        """Waits for the visitor's text message with this body."""
        return await self.next(
            "message",
            lambda f: f.get("kind") == "text" and f["author"]["kind"] == "visitor" and f["body"] == body,
        )

    async def reply(self, conversation: str, body: str) -> Frame:
        # Take the conversation first when routing left it in the queue; already ours is fine.
        await self.request({"t": "claim", "conversation": conversation})
        answer = await self.request(
            {"t": "send", "conversation": conversation, "client_msg_id": f"a-{uuid.uuid4()}", "body": body}
        )
        assert answer["t"] == "ack", answer
        return answer

    async def close_conversation(self, conversation: str) -> Frame:
        return await self.request({"t": "close", "conversation": conversation})

    async def messages(self, conversation: str) -> list[Frame]:
        """The stored messages, straight from the REST API (the source of truth for counting)."""
        response = await self.http.get(f"/api/conversations/{conversation}/messages", params={"limit": 100})
        response.raise_for_status()
        data = response.json()
        return list(data["messages"] if isinstance(data, dict) else data)

    async def stored_events(self, conversation: str, event: str) -> list[Frame]:
        """The conversation's stored `event` messages, once there is one (what the widget hides at once,
        such as an answered survey, the server stores a moment later)."""
        deadline = asyncio.get_running_loop().time() + ANSWER_SECS
        while True:
            found = [m for m in await self.messages(conversation) if m.get("event") == event]
            if found or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.05)

    async def update_site(self, site_key: str, settings: Frame) -> None:
        response = await self.http.patch(f"/api/sites/{site_key}", json={"settings": settings})
        response.raise_for_status()

    async def aclose(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, ANSWER_SECS)
        await self.http.aclose()
