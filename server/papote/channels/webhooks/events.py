"""Which webhook events a conversation's seq stream makes, and the deliveries they become (pure).

Every event a webhook reports is a message of the seq stream: a text or note is `message.created`, the
first message of a conversation also opens it, and the state changes are the stream's `event` messages
(closed, reopened, assigned or transferred, rated). So deriving events needs nothing but the store's
messages, read past a cursor — which is what makes them durable (store/webhooks.py).

The body is rendered once, when the delivery is queued: every retry sends the same bytes under the
same `webhook-id`, and a receiver that already has that id can drop the copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from papote.frames import message_dict
from papote.ids import new_id
from papote.store import Message
from papote.store.outbox import Delivery
from papote.store.webhooks import WebhookEndpoint
from papote.types import MessageKind, Millis

CHANNEL = "webhook"

MESSAGE_CREATED = "message.created"
CONVERSATION_OPENED = "conversation.opened"
#: Every event type an endpoint may ask for, in the order the docs list them.
EVENT_TYPES = (MESSAGE_CREATED, CONVERSATION_OPENED, "conversation.closed", "conversation.reopened",
               "conversation.assigned", "conversation.rated")
#: The seq stream's `event` messages that are webhook events (the others, like `contact`, are not).
_FROM_STREAM = {"closed": "conversation.closed", "reopened": "conversation.reopened",
                "assigned": "conversation.assigned", "transferred": "conversation.assigned",
                "rated": "conversation.rated"}


def events_of(message: Message) -> list[str]:
    """The event types one message makes, in the order they are delivered."""
    out = []
    if message.seq == 1:
        out.append(CONVERSATION_OPENED)
    if message.kind in (MessageKind.TEXT, MessageKind.NOTE):
        out.append(MESSAGE_CREATED)
    elif message.event in _FROM_STREAM:
        out.append(_FROM_STREAM[message.event])
    return out


def position(seq: int, event_type: str) -> int:
    """The order of deliveries within a conversation: by seq, the opening before seq 1's own message."""
    return seq * 2 + (0 if event_type == CONVERSATION_OPENED else 1)


def webhook_id(endpoint_id: str, conversation_id: str, seq: int, event_type: str) -> str:
    """The `webhook-id` of one event at one endpoint: derived from what it reports, so it is the same
    on every retry (and would be the same if the event were ever derived twice)."""
    digest = hashlib.sha256(f"{endpoint_id}/{conversation_id}/{seq}/{event_type}".encode()).digest()[:18]
    return "msg_" + base64.urlsafe_b64encode(digest).decode()


def iso(ms: Millis) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body_of(event_type: str, message: Message, site_key: str, visitor_id: str) -> dict[str, Any]:
    """The JSON body: `{type, timestamp, data}` as the Standard Webhooks spec suggests."""
    data: dict[str, Any] = {"site": site_key, "conversation": message.conversation_id, "visitor": visitor_id,
                            "seq": message.seq}
    if event_type == MESSAGE_CREATED:
        data["message"] = message_dict(message)
    elif event_type != CONVERSATION_OPENED:
        data["by"] = ({"kind": message.author_kind, "id": message.author_id, "name": message.author_name}
                      if message.author_id else None)
        data["details"] = message.data or {}
    return {"type": event_type, "timestamp": iso(message.created_at), "data": data}


def deliveries_for(messages: list[Message], endpoints: list[WebhookEndpoint], *, site_key: str,
                   visitor_id: str, now: Millis) -> list[Delivery]:
    """The deliveries a run of messages makes, for every endpoint that wants each event and existed
    when the message was written (an endpoint added today is not sent last week's history)."""
    out = []
    for message in messages:
        for event_type in events_of(message):
            body: str | None = None
            for endpoint in endpoints:
                if event_type not in endpoint.events or message.created_at < endpoint.created_at:
                    continue
                if body is None:
                    body = json.dumps(body_of(event_type, message, site_key, visitor_id), ensure_ascii=False,
                                      separators=(",", ":"))
                out.append(Delivery(
                    new_id("d"), endpoint.site_id, message.conversation_id, visitor_id, CHANNEL, event_type,
                    endpoint.id, {"webhook_id": webhook_id(endpoint.id, message.conversation_id, message.seq,
                                                           event_type), "body": body},
                    next_attempt_at=now, created_at=now, position=position(message.seq, event_type),
                ))
    return out
