"""The Bus: how a domain event reaches every connection that follows its topic, on any node.

Topics (bus/topics.py) name what changed. A publication is a `BusEvent`: the domain event (events.py)
and the publisher — node id + connection id, so the sender is not sent its own echo (it has its ack)
and connection 17 of one node is never mistaken for connection 17 of another. The bus never carries
a wire frame: each connection renders the frame its audience may see (frames.py), once per audience
per node thanks to the cache on the `BusEvent`.

`publish` is synchronous: it hands the event to this node's listeners at once, in call order (which is
commit order for a conversation), and queues it for the broker if there is one. `subscribe` registers
the listener at once and returns an awaitable that completes when the subscription is live on the
broker: resume reads the history only after that, so nothing committed in between is missed.

Delivery between nodes is best effort (bus/broker.py repairs gaps from the store); `LocalBus` is the
one-process bus, where nothing is ever lost.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

from papote.events import Event

log = logging.getLogger("papote.bus")

#: This process's name on the bus: 64 random bits, new at every start (a restarted node is a new
#: publisher; nothing is keyed on it across restarts).
NODE_ID = secrets.token_hex(8)


@dataclass(slots=True)
class BusEvent:
    event: Event
    #: The publisher, `<node>.<connection>`: the connection it came from gets no echo. None: the server.
    origin: str | None = None
    #: Encoded frames per audience, filled by the first connection of each audience (connections.py).
    rendered: dict[Any, bytes | None] | None = None


Listener = Callable[[str, BusEvent], None]
#: Sees what this node publishes, and only that (never what arrives from other nodes): work that must
#: happen once per committed change in the whole cluster, like an alert on a phone (push.py).
Observer = Callable[[str, Event], None]


class _Ready:
    """An awaitable that is already done (a subscription on a bus with no broker)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


READY: Awaitable[None] = _Ready()


class Bus:
    """Publish/subscribe by topic. Listeners are plain callables that must not block."""

    def __init__(self, node: str | None = None) -> None:
        self.node = node or NODE_ID
        self._listeners: dict[str, list[Listener]] = {}
        self._observers: list[Observer] = []

    # -- subscriptions -------------------------------------------------------------------------------
    def subscribe(self, topic: str, listener: Listener) -> Awaitable[None]:
        """Listen to `topic` from now on; await the result to know the broker delivers it too."""
        listeners = self._listeners.get(topic)
        if listeners is None:
            listeners = self._listeners[topic] = []
            self._topic_added(topic)
        if listener not in listeners:
            listeners.append(listener)
        return self.live(topic)

    def unsubscribe(self, topic: str, listener: Listener) -> None:
        listeners = self._listeners.get(topic)
        if listeners and listener in listeners:
            listeners.remove(listener)
            if not listeners:
                del self._listeners[topic]
                self._topic_removed(topic)

    def live(self, topic: str) -> Awaitable[None]:
        """Completes once `topic`'s subscription is live on the broker (at once without one)."""
        return READY

    def topics(self) -> int:
        return len(self._listeners)

    # -- publishing ----------------------------------------------------------------------------------
    def observe(self, observer: Observer) -> None:
        """Call `observer` with every event this node publishes from now on. It must not block."""
        self._observers.append(observer)

    def _observed(self, topic: str, event: Event) -> None:
        for observer in self._observers:
            try:
                observer(topic, event)
            except Exception:  # an observer's fault must not stop the publication
                log.exception("bus observer failed on %s", topic)

    def publish(self, topic: str, event: Event, origin: str | None = None) -> None:
        """Hand `event` to this node's listeners now, and to the other nodes' through the broker."""
        bus_event = BusEvent(event, origin)
        self.deliver(topic, bus_event)
        self._observed(topic, event)
        self._send(topic, bus_event)

    def deliver(self, topic: str, bus_event: BusEvent) -> None:
        """Call this node's listeners of `topic`, in subscription order."""
        listeners = self._listeners.get(topic)
        if not listeners:
            return
        # Copy: a listener may unsubscribe (its connection closing) while we iterate.
        for listener in tuple(listeners):
            try:
                listener(topic, bus_event)
            except Exception:  # one broken listener must not starve the others
                log.exception("bus listener failed on %s", topic)

    # -- hooks for brokers ---------------------------------------------------------------------------
    def _topic_added(self, topic: str) -> None:
        """The first listener of `topic` on this node arrived."""

    def _topic_removed(self, topic: str) -> None:
        """The last listener of `topic` on this node left."""

    def _send(self, topic: str, bus_event: BusEvent) -> None:
        """Carry a publication to the other nodes."""

    async def start(self) -> None:
        """Connect to the broker, if any."""

    async def stop(self) -> None:
        """Disconnect."""

    def stats(self) -> dict[str, Any]:
        """Figures for /healthz: the bus kind, and for brokers their connection and repair counters."""
        return {"kind": "local", "topics": self.topics()}
