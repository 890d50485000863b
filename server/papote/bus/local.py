"""The in-process bus: one server process, listeners called synchronously in publish order."""

from __future__ import annotations

import logging

from papote.bus import Bus, BusEvent, Listener

log = logging.getLogger("papote.bus")


class LocalBus(Bus):
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def subscribe(self, topic: str, listener: Listener) -> None:
        listeners = self._listeners.setdefault(topic, [])
        if listener not in listeners:
            listeners.append(listener)

    def unsubscribe(self, topic: str, listener: Listener) -> None:
        listeners = self._listeners.get(topic)
        if listeners and listener in listeners:
            listeners.remove(listener)
            if not listeners:
                del self._listeners[topic]

    async def publish(self, topic: str, event: BusEvent) -> None:
        self.deliver(topic, event)

    def publish_nowait(self, topic: str, event: BusEvent) -> None:
        self.deliver(topic, event)

    def deliver(self, topic: str, event: BusEvent) -> None:
        # Copy: a listener may unsubscribe (its connection closing) while we iterate.
        for listener in tuple(self._listeners.get(topic, ())):
            try:
                listener(topic, event)
            except Exception:  # one broken listener must not starve the others
                log.exception("bus listener failed on %s", topic)

    def topics(self) -> int:
        return len(self._listeners)
