"""Domain events: what changed, published on the bus after COMMIT, never a wire frame.

The services (`conversations.Chat`, the node's presence and visitor updates, the REST API) publish one
of these once the store has committed what it describes. An event carries ids, the `seq` where there is
one, and the data a connection needs to render its frame — but no decision about who may see what:
each connection renders the frame its audience may see at delivery (`frames.render`), so a private note
never reaches a visitor because of a rule there, not because somebody inspected a frame.

Events cross nodes through a broker (`bus/codec.py` turns them into bytes and back), so every field is
plain data: records from `store`, strings, numbers, dicts of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from papote.store import Conversation, Message


@dataclass(slots=True)
class MessageAppended:
    """A message (text, note or event) was committed at `message.seq` of its conversation."""

    message: Message

    @property
    def conversation_id(self) -> str:
        return self.message.conversation_id

    @property
    def seq(self) -> int:
        return self.message.seq


@dataclass(slots=True)
class ConversationChanged:
    """A conversation's state changed (created, assigned, closed, labelled…): inboxes redraw it.

    Besides the record it carries what the summaries show and the record does not hold: the site's
    public key, the assignee's name and avatar, and (for agents) the visitor's summary."""

    conversation: Conversation
    site_key: str
    #: The assignee as an author (`{kind, id, name, avatar}`), or None.
    assignee: dict[str, Any] | None
    #: The visitor's short summary (`{id, name, email, verified}`), or None if unknown.
    visitor: dict[str, Any] | None

    @property
    def conversation_id(self) -> str:
        return self.conversation.id


@dataclass(slots=True)
class ReadMarked:
    """A participant has read a conversation up to `seq`."""

    conversation_id: str
    reader: dict[str, Any]
    seq: int


@dataclass(slots=True)
class Typing:
    conversation_id: str
    author: dict[str, Any]
    on: bool


@dataclass(slots=True)
class PresenceChanged:
    """An agent's status, capacity or load changed (agents of the agent's sites see it)."""

    agent: dict[str, Any]
    status: str
    capacity: int
    load: int


@dataclass(slots=True)
class AvailabilityChanged:
    """How many agents of a site are online, and whether it is open now (its visitors see it)."""

    site_id: str
    agents_online: int
    open_now: bool


@dataclass(slots=True)
class QueueChanged:
    """A waiting conversation's place in its site's line."""

    conversation_id: str
    position: int
    wait_secs: int | None


@dataclass(slots=True)
class VisitorChanged:
    """A visitor's live context changed (page, attributes, a tracked event), or they came or left."""

    visitor: dict[str, Any]
    online: bool
    event: dict[str, Any] | None = None


@dataclass(slots=True)
class Revoked:
    """An agent's session ended (logout, password change, disabled), or a membership did: sockets close.

    `session` is the digest of one session's token, or None for every session of the agent; `keep` one
    session spared (the one that changed the password); `site` set: only the agent's access to that
    site ended, so only sockets that hold a role there close (and reconnect without it); with `joined`,
    the agent gained that site (an accepted invitation, a site created): every socket of the agent
    closes, to reconnect with it."""

    session: str | None = None
    keep: str | None = None
    site: str | None = None
    joined: bool = False


@dataclass(slots=True)
class VisitorErased:
    """A visitor was erased (privacy.py): their sockets close with 4013 on every node, and nodes forget
    what they cached of them. Carries ids only: the person's data is gone."""

    visitor_id: str
    site_id: str


@dataclass(slots=True)
class VisitorMerged:
    """Visitor `from_id` was merged into `into_id` (an agent's merge, contacts.py, or a verified identify):
    the merged-away visitor's sockets, on every node, reconnect (1001) and come back as whoever their
    token opens now, the kept visitor."""

    from_id: str
    into_id: str
    site_id: str


@dataclass(slots=True)
class NodePresence:
    """One node's agents: who is connected to it, with the status and capacity each chose.

    Nodes exchange these on the `cluster` topic (presence.py): every heartbeat, at once when one
    changes, and on request (`ask`: a node that just started wants everybody's). No connection sees it."""

    node: str
    #: {agent id: [status, capacity]} for every agent with a socket on `node`.
    agents: dict[str, list[Any]]
    #: How long this snapshot holds if no other follows (the node may have died).
    ttl_secs: float
    ask: bool = False


@dataclass(slots=True)
class DeliveryChanged:
    """Where an outbound message on a messaging channel stands changed (queued, sent, delivered, read,
    failed: the furthest state the provider reported, store/channels.py). Agents see it."""

    conversation_id: str
    seq: int
    channel: str
    state: str
    error: str = ""


@dataclass(slots=True)
class AttachmentsAdded:
    """Files reached a message after it was stored (a messaging app's media, fetched from the provider
    once the webhook was answered): `attachments` are the message's files as clients see them, all of
    them, in order. Agents see it; the customer is on the provider's app, not on a socket."""

    conversation_id: str
    seq: int
    attachments: list[dict[str, Any]]


@dataclass(slots=True)
class Mentioned:
    """An agent was mentioned in a private note (the note at `seq`): published on that agent's own topic,
    since they may not follow the conversation. `by` is the note's author (an Author), `body` the note's
    first characters."""

    conversation_id: str
    seq: int
    by: dict[str, Any]
    body: str


@dataclass(slots=True)
class CacheInvalidated:
    """A record other nodes may cache changed: they drop their copy (`kind` site, agent or visitor)."""

    kind: str
    id: str


Event = (
    MessageAppended | ConversationChanged | ReadMarked | Typing | PresenceChanged | AvailabilityChanged
    | QueueChanged | VisitorChanged | Revoked | VisitorErased | VisitorMerged | NodePresence | CacheInvalidated
    | DeliveryChanged | AttachmentsAdded | Mentioned
)

#: Every event class, by the name the codec writes on the wire to the broker.
EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (MessageAppended, ConversationChanged, ReadMarked, Typing, PresenceChanged,
                AvailabilityChanged, QueueChanged, VisitorChanged, Revoked, VisitorErased, VisitorMerged,
                NodePresence, CacheInvalidated,
                DeliveryChanged, AttachmentsAdded, Mentioned)
}
