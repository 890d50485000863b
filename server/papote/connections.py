"""Live connections on this node: who is connected, what each listens to, and a bounded queue each.

Fan-out never waits on a socket. A bus event is pushed (already encoded) onto each listening connection's
queue without blocking; a writer task per connection drains it to the socket. A connection whose queue
is full is a slow consumer: it is closed with 4009 and will resume from the store, so one stalled phone
never slows the other chats on this node, and memory stays bounded (queue length × frame size).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from papote.authz import Principal
from papote.bus import Bus, BusEvent
from papote.errors import CloseCode
from papote.protocol import Endpoint
from papote.types import PrincipalKind

log = logging.getLogger("papote.connections")

_ids = itertools.count(1)
#: Live frames held for one conversation while its resume is read; past this the client gets them as
#: they come (out of order with the history, still deduplicable by seq).
MAX_HELD = 256
#: A client sends `resume` as its first frame after `welcome`, within milliseconds — but on a server busy
#: with a reconnect storm that frame may wait seconds to be read, and releasing the hold before it would
#: send live frames ahead of a history that repeats them (1 s did, in the resume benchmark). Only a
#: client that never resumes waits this long; any other frame from it releases the hold at once.
RESUME_GRACE_SECS = 10.0


@dataclass(eq=False)
class Connection:
    principal: Principal
    endpoint: Endpoint
    queue_limit: int
    #: Called once when the connection must be closed (slow consumer, revoked session…).
    on_close: Callable[[CloseCode, str], None]
    id: int = field(default_factory=lambda: next(_ids))
    topics: set[str] = field(default_factory=set)
    #: Conversations an agent asked for explicitly (kept when assignment changes).
    explicit: set[str] = field(default_factory=set)
    queue: asyncio.Queue[bytes] = field(init=False)
    closed: bool = False
    #: Set by the agent endpoint: decides which conversations an agent follows as assignments change.
    on_conversation: Callable[[Connection, dict[str, object]], None] | None = None
    #: Digest of the agent session this socket authenticated with (logout closes only its sockets).
    session: str | None = None
    #: Conversations being resumed: their live frames wait here until the history has been queued, so
    #: the client gets the gap, then what followed, in seq order and once.
    holding: dict[str, list[BusEvent]] = field(default_factory=dict)
    #: Held conversations whose `resume` is reading their history right now: only that resume releases
    #: them (with the seq its history reached), never the welcome's grace timer.
    resuming: set[str] = field(default_factory=set)
    #: Per resumed conversation, the last seq its history reached. A message committed just before the
    #: history read but fanned out just after it would otherwise reach this client twice.
    replayed_upto: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.queue_limit)

    def push(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.close(CloseCode.SLOW_CONSUMER, "send queue overflowed; reconnect and resume")

    def close(self, code: CloseCode, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.on_close(code, reason)

    def listen(self, topic: str, event: BusEvent) -> None:
        """Bus listener: decide what this connection receives, then queue it."""
        if event.origin == self.id or self.closed:
            return
        frame = event.frame
        kind = frame["t"]
        if kind == "_revoke":
            site = frame.get("site")
            if site is not None:  # a membership ended or was disabled: the rest of the account stays
                if site in self.principal.roles:
                    self.close(CloseCode.MEMBERSHIP_CHANGED, "your access to a site changed; reconnect")
            elif frame.get("session") in (None, self.session) and frame.get("keep") != self.session:
                self.close(CloseCode.SESSION_REVOKED, "session ended")
            return
        if self.endpoint is Endpoint.VISITOR:
            # Notes never reach a visitor, whatever topic carried them.
            if kind == "message" and frame.get("kind") == "note":
                return
            if kind == "conversation" and frame.get("audience") == "agent":
                return
        else:
            if kind == "conversation" and frame.get("audience") == "visitor":
                return
            if kind == "conversation" and self.on_conversation is not None:
                self.on_conversation(self, frame)
        cid = frame.get("conversation")
        if not isinstance(cid, str):
            cid = ""  # a `conversation` frame carries the whole conversation, not its id
        if kind == "message" and self.replayed_upto and frame.get("seq", 0) <= self.replayed_upto.get(cid, 0):
            return
        if self.holding:
            if cid in self.holding:
                held = self.holding[cid]
                held.append(event)
                if len(held) > MAX_HELD:  # a client that never resumes does not get to grow this
                    self.release(cid, 0)
                return
        self.push(event.encoded)

    def hold(self, conversation_id: str) -> None:
        self.holding.setdefault(conversation_id, [])

    def hold_until_resume(self, conversation_ids: list[str]) -> None:
        """Followed at `welcome`: hold their live frames for the client's `resume`, but not for long —
        a client that does not resume at once gets them as they come."""
        for cid in conversation_ids:
            self.hold(cid)
        if conversation_ids:
            asyncio.get_running_loop().call_later(RESUME_GRACE_SECS, self.release_all)

    def release_all(self) -> None:
        """Send everything held, except what a resume in progress will release itself: released now,
        those frames would overtake (and then repeat) the history being read."""
        for cid in list(self.holding):
            if cid not in self.resuming:
                self.release(cid, 0)

    def resume_started(self, conversation_id: str) -> None:
        self.hold(conversation_id)
        self.resuming.add(conversation_id)

    def release(self, conversation_id: str, upto_seq: int) -> None:
        """The history up to `upto_seq` is queued: send what was held after it, skipping what it had."""
        self.resuming.discard(conversation_id)
        if upto_seq > self.replayed_upto.get(conversation_id, 0):
            self.replayed_upto[conversation_id] = upto_seq
        for event in self.holding.pop(conversation_id, []):
            frame = event.frame
            if frame["t"] == "message" and frame.get("seq", 0) <= upto_seq:
                continue  # the history had it (other frames, read marks included, still go)
            self.push(event.encoded)


class Hub:
    """The registry of this node's connections, and their bus subscriptions."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.connections: dict[int, Connection] = {}
        self.by_principal: dict[str, set[Connection]] = {}

    def add(self, conn: Connection) -> None:
        self.connections[conn.id] = conn
        self.by_principal.setdefault(conn.principal.id, set()).add(conn)
        self.subscribe(conn, f"{conn.principal.kind.value}:{conn.principal.id}")

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        self.connections.pop(conn.id, None)
        peers = self.by_principal.get(conn.principal.id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.by_principal[conn.principal.id]
        for topic in list(conn.topics):
            self.unsubscribe(conn, topic)

    def rebind(self, conn: Connection, principal: Principal) -> None:
        """The connection now speaks for another principal (a visitor who identified): new topics."""
        for topic in list(conn.topics):
            self.unsubscribe(conn, topic)
        peers = self.by_principal.get(conn.principal.id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.by_principal[conn.principal.id]
        conn.principal = principal
        self.by_principal.setdefault(principal.id, set()).add(conn)
        self.subscribe(conn, f"{principal.kind.value}:{principal.id}")

    def subscribe(self, conn: Connection, topic: str) -> None:
        if topic not in conn.topics:
            conn.topics.add(topic)
            self.bus.subscribe(topic, conn.listen)

    def unsubscribe(self, conn: Connection, topic: str) -> None:
        if topic in conn.topics:
            conn.topics.discard(topic)
            self.bus.unsubscribe(topic, conn.listen)

    def connections_of(self, principal_id: str) -> set[Connection]:
        return self.by_principal.get(principal_id, set())

    def count(self, kind: PrincipalKind | None = None) -> int:
        if kind is None:
            return len(self.connections)
        return sum(1 for c in self.connections.values() if c.principal.kind is kind)

    def close_all(self, code: CloseCode, reason: str) -> None:
        for conn in list(self.connections.values()):
            conn.close(code, reason)
