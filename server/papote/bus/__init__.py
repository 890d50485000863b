"""The Bus: how "conversation X advanced" reaches every connection that cares, on any node.

Topics name what changed: ``conv:<id>`` (messages, typing, reads, state of one conversation),
``site:<id>`` (inbox changes and presence for a site's agents), ``visitor:<id>`` (a visitor's other tabs
and devices), ``agent:<id>`` (an agent's own sockets: session revoked). Delivery is best effort: a listener
that misses an event repairs it with `resume`, which reads the store. So an event carries the frame ready
to send (encoded once, whatever the number of listeners), never state that only lives here.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from papote.protocol import encode
from papote.types import Frame


@dataclass(slots=True)
class BusEvent:
    frame: Frame
    #: The connection the event came from, so the sender is not sent its own echo (it has its ack).
    origin: int | None = None
    _encoded: bytes | None = field(default=None, repr=False)

    @property
    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = encode(self.frame)
        return self._encoded


Listener = Callable[[str, BusEvent], None]

#: Publications started from synchronous code, kept referenced until they are done.
_PENDING: set[asyncio.Future[None]] = set()


class Bus(abc.ABC):
    """Publish/subscribe by topic. Listeners are plain callables that must not block."""

    @abc.abstractmethod
    def subscribe(self, topic: str, listener: Listener) -> None: ...

    @abc.abstractmethod
    def unsubscribe(self, topic: str, listener: Listener) -> None: ...

    @abc.abstractmethod
    async def publish(self, topic: str, event: BusEvent) -> None: ...

    def publish_nowait(self, topic: str, event: BusEvent) -> None:
        """Publish from synchronous code (a future's callback): delivery order follows call order."""
        task = asyncio.ensure_future(self.publish(topic, event))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect to the broker, if any."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Disconnect."""
