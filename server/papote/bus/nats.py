"""The NATS bus: core pub/sub on nats-py (`PAPOTE_BUS=nats://host:4222`).

Subjects are `papote.<topic>`. NATS core is at most once: what is in flight when the server dies is
lost (measured: research §D). nats-py's own reconnect gives up after 60 attempts by default and would
hide the reconnect from us, so it is off: a lost connection ends the session, `BrokerBus` reconnects
forever with backoff, re-subscribes and repairs from the store. `no_echo`: the server does not send a
node its own publications (it delivered them locally).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from papote.bus.broker import CONNECT_TIMEOUT_SECS, BrokerBus

log = logging.getLogger("papote.bus")

PREFIX = "papote."
#: A subscription is live once the server has answered a PING sent after it.
FLUSH_TIMEOUT_SECS = 5


class NatsBus(BrokerBus):
    kind = "nats"

    def __init__(self, url: str, node: str | None = None, check_secs: float = 30.0) -> None:
        super().__init__(url, node, check_secs)
        self._nc: Client | None = None
        self._subs: dict[str, Subscription] = {}
        self._broken_event = asyncio.Event()

    async def _connect(self) -> None:
        self._broken_event = asyncio.Event()
        broken = self._broken_event

        async def closed() -> None:
            broken.set()

        async def error(exc: Exception) -> None:
            log.warning("bus: nats: %s", exc)

        self._nc = await nats.connect(
            servers=[self.url], allow_reconnect=False, max_reconnect_attempts=0,
            connect_timeout=CONNECT_TIMEOUT_SECS, no_echo=True, name=f"papote-{self.node}",
            closed_cb=closed, disconnected_cb=closed, error_cb=error,
        )
        self._subs = {}

    async def _serve(self) -> None:
        await self._broken_event.wait()
        raise ConnectionError("connection lost")

    async def _subscribe(self, topics: list[str]) -> None:
        nc = self._nc
        if not topics or nc is None:
            return
        for topic in topics:
            if topic in self._subs:
                continue

            async def on_message(msg: Msg, topic: str = topic) -> None:
                self.received_from_broker(topic, msg.data)

            self._subs[topic] = await nc.subscribe(PREFIX + topic, cb=on_message)
        await nc.flush(FLUSH_TIMEOUT_SECS)

    async def _unsubscribe(self, topics: list[str]) -> None:
        for topic in topics:
            sub = self._subs.pop(topic, None)
            if sub is not None:
                await sub.unsubscribe()

    async def _publish(self, batch: list[tuple[str, bytes]]) -> None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise ConnectionError("not connected")
        for topic, data in batch:
            await nc.publish(PREFIX + topic, data)

    def _broken(self, exc: BaseException) -> None:
        self._broken_event.set()

    async def _close(self) -> None:
        nc, self._nc = self._nc, None
        self._subs = {}
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 2.0)

