"""Frames rendered from records and domain events, per audience: the only place that says who sees what.

`render(event, audience)` returns the frame a connection of that audience may receive for an event, or
None when the audience may not see it at all. The rules, in one table:

| event                | visitor                         | agent                    |
|----------------------|---------------------------------|--------------------------|
| MessageAppended      | text and events; never a note   | everything               |
| ConversationChanged  | the visitor's view (no labels, contact, rating, visitor) | the full view |
| ReadMarked, Typing   | yes                             | yes                      |
| QueueChanged         | yes (their place in line)       | no                       |
| AvailabilityChanged  | yes                             | no                       |
| PresenceChanged      | no (agents' loads are internal) | yes                      |
| VisitorChanged       | no (another visitor's context)  | yes                      |
| DeliveryChanged      | no (the provider's receipts are the business's) | yes      |
| AttachmentsAdded     | no (the customer is on the provider's app)      | yes      |
| Mentioned            | no (a note's mention is between agents)         | yes (on the mentioned agent's own topic) |
| Revoked              | never a frame: it closes sockets (connections.py) |        |
| VisitorErased        | never a frame: it closes the visitor's sockets (4013) |    |
| VisitorMerged        | never a frame: the merged-away visitor's sockets reconnect (1001) | |
| NodePresence, CacheInvalidated | never: node-to-node, on a topic no connection follows |  |

Pure functions of their arguments: tested without sockets (tests/unit/test_frames.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from papote.events import (
    AttachmentsAdded,
    AvailabilityChanged,
    CacheInvalidated,
    ConversationChanged,
    DeliveryChanged,
    Event,
    Mentioned,
    MessageAppended,
    NodePresence,
    PresenceChanged,
    QueueChanged,
    ReadMarked,
    Revoked,
    Typing,
    VisitorChanged,
    VisitorErased,
    VisitorMerged,
)
from papote.protocol import Endpoint
from papote.store import Agent, Conversation, Message, Visitor
from papote.types import Frame

#: The audiences: the two socket endpoints. REST readers render with the agent's or visitor's view.
Audience = Endpoint


def agent_author(agent: Agent) -> dict[str, Any]:
    return {"kind": "agent", "id": agent.id, "name": agent.name, "avatar": agent.avatar}


def message_frame(m: Message) -> Frame:
    frame: Frame = {
        "t": "message",
        "conversation": m.conversation_id,
        "seq": m.seq,
        "ts": m.created_at,
        "kind": m.kind,
        "author": {"kind": m.author_kind, "id": m.author_id, "name": m.author_name},
        "body": m.body,
        "client_msg_id": m.client_msg_id,
    }
    if m.event is not None:
        frame["event"] = m.event
        frame["data"] = m.data
    elif m.data is not None:
        # A visitor's answer to a proactive message: {proactive: {rule, message}}. The ids of its files
        # are the store's business: clients get the files themselves, in `attachments`.
        data = {k: v for k, v in m.data.items() if k != "attachments"}
        if data:
            frame["data"] = data
    if m.attachments:
        frame["attachments"] = m.attachments
    return frame


def message_dict(m: Message) -> Frame:
    """A message as it appears inside other frames (history, summaries): no `t`."""
    frame = message_frame(m)
    del frame["t"]
    return frame


def visitor_summary(v: Visitor, *, full: bool = False) -> Frame:
    out: Frame = {"id": v.id, "name": v.name, "email": v.email, "verified": v.verified}
    if v.device.get("channel"):  # a customer who writes from a messaging app (channels/messaging/)
        out["channel"] = v.device["channel"]
    if full:
        out.update(
            page=v.page, pages=v.pages, device=v.device, attributes=v.attributes,
            created_at=v.created_at, last_seen=v.last_seen, user_id=v.user_id,
        )
    return out


def conversation_view(
    conv: Conversation, site_key: str, assignee: dict[str, Any] | None, visitor: dict[str, Any] | None,
    audience: Audience,
) -> Frame:
    """A conversation's summary as `audience` sees it (without the reader's own read marks)."""
    frame: Frame = {
        "id": conv.id,
        "site": site_key,
        "status": conv.status,
        "assignee": assignee,
        "last_seq": conv.last_seq,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "queue": None,
    }
    if audience is Endpoint.AGENT:
        frame.update(
            visitor=visitor,
            labels=conv.labels,
            contact_email=conv.contact_email,
            rating=conv.rating,
            rating_comment=conv.rating_comment,
            site_id=conv.site_id,
            snoozed_until=conv.snoozed_until,
        )
    return frame


def may_see(event: Event, audience: Audience) -> bool:
    """Whether `audience` may see an event whose frame is the same for all (`SHARED_FRAMES`)."""
    # The rule: notes are between agents.
    return not (audience is Endpoint.VISITOR and type(event) is MessageAppended and event.message.kind == "note")


def _conversation(event: ConversationChanged, audience: Audience) -> Frame | None:
    return {"t": "conversation", "conversation": conversation_view(
        event.conversation, event.site_key, event.assignee, event.visitor, audience)}


def _presence(event: PresenceChanged, audience: Audience) -> Frame | None:
    if audience is not Endpoint.AGENT:
        return None
    return {"t": "presence", "agent": {**event.agent, "status": event.status, "capacity": event.capacity,
                                       "load": event.load}}


def _availability(event: AvailabilityChanged, audience: Audience) -> Frame | None:
    if audience is not Endpoint.VISITOR:
        return None
    return {"t": "availability", "agents_online": event.agents_online, "open_now": event.open_now}


def _queue(event: QueueChanged, audience: Audience) -> Frame | None:
    if audience is not Endpoint.VISITOR:
        return None
    return {"t": "queue", "conversation": event.conversation_id, "position": event.position,
            "wait_secs": event.wait_secs}


def _visitor(event: VisitorChanged, audience: Audience) -> Frame | None:
    if audience is not Endpoint.AGENT:
        return None
    frame: Frame = {"t": "visitor", "visitor": event.visitor, "online": event.online}
    if event.event is not None:
        frame["event"] = event.event
    return frame


def _delivery(event: DeliveryChanged, audience: Audience) -> Frame | None:
    if audience is not Endpoint.AGENT:
        return None
    return {"t": "delivery", "conversation": event.conversation_id, "seq": event.seq, "channel": event.channel,
            "state": event.state, "error": event.error}


def _attachments(event: AttachmentsAdded, audience: Audience) -> Frame | None:
    if audience is not Endpoint.AGENT:
        return None
    return {"t": "attachments", "conversation": event.conversation_id, "seq": event.seq,
            "attachments": event.attachments}


def _mentioned(event: Mentioned, audience: Audience) -> Frame | None:
    if audience is not Endpoint.AGENT:
        return None
    return {"t": "mentioned", "conversation": event.conversation_id, "seq": event.seq, "by": event.by,
            "body": event.body}


def _revoked(event: Revoked, audience: Audience) -> Frame | None:
    return None


def _never(event: NodePresence | CacheInvalidated | VisitorErased | VisitorMerged, audience: Audience) -> Frame | None:
    return None


#: Events whose frame is the same for every audience that may see it (`may_see` says which may): the
#: frame is encoded once per publication, not once per audience — most of the fan-out is messages.
SHARED_FRAMES: dict[type[Any], Callable[[Any], Frame]] = {
    MessageAppended: lambda e: message_frame(e.message),
    ReadMarked: lambda e: {"t": "read", "conversation": e.conversation_id, "reader": e.reader, "seq": e.seq},
    Typing: lambda e: {"t": "typing", "conversation": e.conversation_id, "author": e.author, "on": e.on},
}

_RENDERERS: dict[type[Any], Callable[[Any, Audience], Frame | None]] = {
    ConversationChanged: _conversation,
    PresenceChanged: _presence,
    AvailabilityChanged: _availability,
    QueueChanged: _queue,
    VisitorChanged: _visitor,
    DeliveryChanged: _delivery,
    AttachmentsAdded: _attachments,
    Mentioned: _mentioned,
    Revoked: _revoked,
    VisitorErased: _never,  # it closes sockets (connections.py)
    VisitorMerged: _never,  # it reconnects sockets (connections.py)
    # Node-to-node housekeeping on the `cluster` topic, which no connection follows.
    NodePresence: _never,
    CacheInvalidated: _never,
}


def render(event: Event, audience: Audience) -> Frame | None:
    """The frame `audience` may see for `event`, or None."""
    shared = SHARED_FRAMES.get(type(event))
    if shared is not None:
        return shared(event) if may_see(event, audience) else None
    return _RENDERERS[type(event)](event, audience)
