"""The Redis bus: pub/sub on redis-py's asyncio client (`PAPOTE_BUS=redis://host:6379/0`).

Channels are `papote:<topic>`. Redis pub/sub is at most once — a subscriber that reconnects loses what
was published meanwhile (measured: research §D) — so redis-py's own silent reconnects are turned off:
a broken connection ends the session, `BrokerBus` reconnects, re-subscribes and repairs from the store.
Each node also subscribes to its own `papote:node:<id>` channel, so the reader has a connection to
watch before any topic is followed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from papote.bus.broker import CONNECT_TIMEOUT_SECS, BrokerBus

PREFIX = "papote:"
#: How long a SUBSCRIBE may wait for its confirmation before the session counts as broken.
SUBSCRIBE_TIMEOUT_SECS = 5.0


class RedisBus(BrokerBus):
    kind = "redis"

    def __init__(self, url: str, node: str | None = None, check_secs: float = 30.0) -> None:
        super().__init__(url, node, check_secs)
        self._client: Redis | None = None
        self._pubsub: PubSub | None = None
        self._confirm: dict[str, asyncio.Future[None]] = {}
        self._broken_event = asyncio.Event()
        self._reader: asyncio.Future[None] | None = None

    async def _connect(self) -> None:
        no_retry = Retry(NoBackoff(), 0)
        self._client = Redis.from_url(self.url, retry=no_retry, socket_connect_timeout=CONNECT_TIMEOUT_SECS,
                                      health_check_interval=0)
        await self._client.ping()
        self._pubsub = self._client.pubsub()
        self._broken_event = asyncio.Event()
        await self._pubsub.subscribe(f"{PREFIX}node:{self.node}")
        # Reading starts now: the confirmations of the subscriptions made before `_serve` come this way.
        self._reader = asyncio.ensure_future(self._read())

    async def _serve(self) -> None:
        reader = self._reader
        assert reader is not None
        broken: asyncio.Future[Any] = asyncio.ensure_future(self._broken_event.wait())
        waits: set[asyncio.Future[Any]] = {reader, broken}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            broken.cancel()
            await asyncio.gather(reader, broken, return_exceptions=True)
            for future in self._confirm.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection lost"))
            self._confirm.clear()
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        raise ConnectionError("connection lost")

    async def _read(self) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            kind = message["type"]
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            if kind == "message":
                if channel.startswith(PREFIX):
                    self.received_from_broker(channel[len(PREFIX):], message["data"])
            elif kind == "subscribe":
                future = self._confirm.pop(channel, None)
                if future is not None and not future.done():
                    future.set_result(None)

    async def _subscribe(self, topics: list[str]) -> None:
        if not topics or self._pubsub is None:
            return
        loop = asyncio.get_running_loop()
        waits = []
        channels = []
        for topic in topics:
            channel = PREFIX + topic
            future = self._confirm.get(channel)
            if future is None:
                future = self._confirm[channel] = loop.create_future()
            waits.append(future)
            channels.append(channel)
        await self._pubsub.subscribe(*channels)
        await asyncio.wait_for(asyncio.gather(*waits), SUBSCRIBE_TIMEOUT_SECS)

    async def _unsubscribe(self, topics: list[str]) -> None:
        if topics and self._pubsub is not None:
            await self._pubsub.unsubscribe(*(PREFIX + t for t in topics))

    async def _publish(self, batch: list[tuple[str, bytes]]) -> None:
        assert self._client is not None
        async with self._client.pipeline(transaction=False) as pipe:
            for topic, data in batch:
                pipe.publish(PREFIX + topic, data)
            await pipe.execute()

    def _broken(self, exc: BaseException) -> None:
        self._broken_event.set()

    async def _close(self) -> None:
        pubsub, client, reader = self._pubsub, self._client, self._reader
        self._pubsub = self._client = self._reader = None
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        closers: list[Any] = []
        if pubsub is not None:
            closers.append(pubsub.aclose())  # type: ignore[no-untyped-call,unused-ignore]  # typed in some redis releases
        if client is not None:
            closers.append(client.aclose())
        for closer in closers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closer, 2.0)
