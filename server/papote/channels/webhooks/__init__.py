"""Outgoing webhooks (Standard Webhooks) for message and conversation events.

* `events.py` — which events the seq stream makes and the deliveries they become (pure);
* `signing.py` — the Standard Webhooks headers and signatures (pure);
* `targets.py` — which URLs a webhook may go to (http(s), public addresses unless allowed);
* `service.py` — endpoints, deriving deliveries past a durable cursor, sending through the outbox.

docs/channels.md ("Webhooks") is the site owner's view.
"""

from papote.channels.webhooks.events import EVENT_TYPES
from papote.channels.webhooks.service import Webhooks

__all__ = ["EVENT_TYPES", "Webhooks"]
