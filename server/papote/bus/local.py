"""The in-process bus: one server process, listeners called synchronously in publish order.

Nothing crosses a network, so nothing is lost: no broker, no gap repair.
"""

from __future__ import annotations

from papote.bus import Bus, BusEvent
from papote.events import Event


class LocalBus(Bus):
    def publish(self, topic: str, event: Event, origin: str | None = None) -> None:
        self.deliver(topic, BusEvent(event, origin))  # no broker to carry it further
        self._observed(topic, event)
