"""What the Redis and NATS buses share: one connection loop, reconnect forever, gap repair.

A `BrokerBus` delivers every publication to this node's listeners at once (as `LocalBus` does) and
queues it, encoded (bus/codec.py), for a sender task that writes to the broker. Publications from
other nodes arrive through the broker; the node's own echo is dropped (it was delivered locally).
Messages of a conversation pass through `GapRepair` both ways, so they leave in seq order and what the
broker lost is read from the store.

The connection loop: connect, subscribe every topic that has listeners, mark them live, re-check every
followed conversation against the store, then serve until the connection breaks; then wait (0.1 s
doubling to 5 s, with jitter) and start over — forever. While the broker is down publishing still
works locally (and is counted as `dropped`): messages are accepted, committed and acknowledged, the
store is the truth, and the other nodes repair from it once the broker is back.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import logging
import random
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

from papote.bus import READY, Bus, BusEvent, codec
from papote.bus.repair import GapRepair
from papote.bus.topics import conversation_of
from papote.events import Event

log = logging.getLogger("papote.bus")

#: First and longest wait between connection attempts (doubling, with full jitter).
RECONNECT_FIRST_SECS, RECONNECT_MAX_SECS = 0.1, 5.0
#: Publications queued for the broker at most; past this (a stalled broker connection) new ones are
#: dropped and counted: the other nodes repair them from the store.
MAX_OUTGOING = 100_000
#: Publications written per round trip of the sender.
SEND_BATCH = 512
#: How long a connection attempt may take.
CONNECT_TIMEOUT_SECS = 3.0


class BrokerBus(Bus):
    kind = "broker"

    def __init__(self, url: str, node: str | None = None, check_secs: float = 30.0) -> None:
        super().__init__(node)
        self.url = url
        self.check_secs = check_secs
        self.repair = GapRepair(super().deliver)
        self._live: dict[str, asyncio.Future[None]] = {}
        self._outgoing: collections.deque[tuple[str, bytes]] = collections.deque()
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connected = False
        self.connects = 0
        self.sent = 0
        self.received = 0
        self.dropped = 0
        self.refused = 0

    # -- subscriptions -------------------------------------------------------------------------------
    def live(self, topic: str) -> Awaitable[None]:
        future = self._live.get(topic)
        return READY if future is None else future

    def _topic_added(self, topic: str) -> None:
        self._live[topic] = asyncio.get_running_loop().create_future()
        cid = conversation_of(topic)
        if cid is not None:
            self.repair.follow(cid)
        if self.connected:
            self._spawn(self._subscribe_now([topic]))

    def _topic_removed(self, topic: str) -> None:
        future = self._live.pop(topic, None)
        if future is not None and not future.done():
            future.cancel()
        cid = conversation_of(topic)
        if cid is not None:
            self.repair.unfollow(cid)
        if self.connected:
            self._spawn(self._unsubscribe_now([topic]))

    async def _subscribe_now(self, topics: list[str]) -> None:
        try:
            await self._subscribe(topics)
        except Exception as exc:  # the connection broke meanwhile: the loop subscribes again
            log.warning("bus: subscribe failed: %s", exc)
            return
        followed = []
        for topic in topics:
            future = self._live.get(topic)
            if future is not None and not future.done():
                future.set_result(None)
            cid = conversation_of(topic)
            if cid is not None:
                followed.append(cid)
        if followed:
            # Anything committed between the baseline read and the subscription going live.
            self._spawn(self.repair.check(followed))

    async def _unsubscribe_now(self, topics: list[str]) -> None:
        try:
            await self._unsubscribe([t for t in topics if t not in self._listeners])
        except Exception as exc:
            log.warning("bus: unsubscribe failed: %s", exc)

    # -- publishing and receiving --------------------------------------------------------------------
    def publish(self, topic: str, event: Event, origin: str | None = None) -> None:
        bus_event = BusEvent(event, origin)
        self.deliver(topic, bus_event)
        self._observed(topic, event)
        if not self.connected or len(self._outgoing) >= MAX_OUTGOING:
            self.dropped += 1
            return
        self._outgoing.append((topic, codec.encode(event, self.node, origin)))
        if self._wake is not None:
            self._wake.set()

    def deliver(self, topic: str, bus_event: BusEvent) -> None:
        cid = conversation_of(topic)
        if cid is None:
            super().deliver(topic, bus_event)
        else:
            self.repair.offer(topic, cid, bus_event)

    def received_from_broker(self, topic: str, data: bytes) -> None:
        """A publication read from the broker (called by the Redis and NATS readers)."""
        try:
            event, node, origin = codec.decode(data)
        except codec.CodecError as exc:
            self.refused += 1
            log.warning("bus: refused a publication on %s: %s", topic, exc)
            return
        if node == self.node:
            return  # our own echo: delivered locally when it was published
        self.received += 1
        self.deliver(topic, BusEvent(event, origin))

    # -- the connection loop -------------------------------------------------------------------------
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name="papote-bus")
        self._checker = asyncio.create_task(self._check_periodically(), name="papote-bus-check")

    async def stop(self) -> None:
        for task in (self._runner, self._checker, *self._tasks):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._runner, self._checker, *self._tasks) if t is not None),
                             return_exceptions=True)
        await self.repair.stop()
        self.connected = False
        await self._close()

    async def _run(self) -> None:
        delay = RECONNECT_FIRST_SECS
        while True:
            try:
                await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT_SECS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus: cannot reach %s (%s); retrying", self.shown_url, exc)
                await self._close()
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(delay * 2, RECONNECT_MAX_SECS)
                continue
            delay = RECONNECT_FIRST_SECS
            self.connects += 1
            self._outgoing.clear()  # published while down: counted as dropped, repaired from the store
            self.connected = True
            log.info("bus: connected to %s", self.shown_url)
            sender = asyncio.create_task(self._send_loop())
            try:
                # Subscribing re-checks every followed conversation against the store: each may have
                # moved while we were away, and a lost *last* message has no successor to reveal it.
                await self._subscribe_now(list(self._listeners))
                await self._serve()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus: connection to %s lost (%s); reconnecting", self.shown_url, exc)
            finally:
                self.connected = False
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
                for topic, future in list(self._live.items()):
                    if future.done():  # live again only once re-subscribed
                        self._live[topic] = asyncio.get_running_loop().create_future()
                await self._close()
            await asyncio.sleep(random.uniform(0, RECONNECT_FIRST_SECS))

    async def _send_loop(self) -> None:
        assert self._wake is not None
        while True:
            if not self._outgoing:
                self._wake.clear()
                await self._wake.wait()
            batch = [self._outgoing.popleft() for _ in range(min(SEND_BATCH, len(self._outgoing)))]
            try:
                await self._publish(batch)
            except Exception as exc:
                self.dropped += len(batch)
                log.warning("bus: publish failed (%s)", exc)
                self._broken(exc)
                return
            self.sent += len(batch)

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.check_secs)
            try:
                await self.repair.check()
            except Exception:
                log.exception("bus: periodic position check failed")

    @property
    def busy(self) -> bool:
        """A subscription, baseline read, store check or repair is still running on this node."""
        return bool(self._tasks) or self.repair.busy

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def shown_url(self) -> str:
        """The broker URL without its password, for logs."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()

    def stats(self) -> dict[str, Any]:
        return {"kind": self.kind, "connected": self.connected, "connects": self.connects,
                "topics": self.topics(), "following": len(self.repair.following()),
                "sent": self.sent, "received": self.received, "dropped": self.dropped,
                "refused": self.refused, "repairs": self.repair.repairs, "repaired": self.repair.repaired}

    # -- what each broker provides -------------------------------------------------------------------
    @abc.abstractmethod
    async def _connect(self) -> None:
        """Open the connection(s); raise if the broker cannot be reached."""

    @abc.abstractmethod
    async def _serve(self) -> None:
        """Read publications (calling `received_from_broker`) until the connection breaks, then raise
        or return."""

    @abc.abstractmethod
    async def _subscribe(self, topics: list[str]) -> None:
        """Subscribe; return once the broker has confirmed (publications now reach us)."""

    @abc.abstractmethod
    async def _unsubscribe(self, topics: list[str]) -> None: ...

    @abc.abstractmethod
    async def _publish(self, batch: list[tuple[str, bytes]]) -> None: ...

    def _broken(self, exc: BaseException) -> None:
        """The sender saw the connection break: make `_serve` return."""

    async def _close(self) -> None:
        """Drop the connection(s), quietly."""
