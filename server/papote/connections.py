"""Live connections on this node: who is connected, what each listens to, and a bounded queue each.

Fan-out never waits on a socket. A bus event is rendered for the connection's audience (frames.py; once
per audience and publication, however many connections share it), written to each listening
connection's socket at once when nothing is ahead of it, else pushed onto the connection's queue without
blocking, which a writer task per connection drains to the socket (web/live.py). A connection whose
queue is full is a slow consumer: it is closed with 4009 and will resume from the
store, so one stalled phone never slows the other chats on this node, and memory stays bounded (queue
length × frame size).

`resume` is here too: it follows the conversations a client names, waits for those subscriptions to be
live on the broker, then queues the history the conversation service reads, holding the live frames that
race it (see `Connection.hold`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from papote.authz import Principal
from papote.bus import NODE_ID, Bus, BusEvent
from papote.bus.topics import conv_topic
from papote.errors import CloseCode
from papote.events import (
    AttachmentsAdded,
    ConversationChanged,
    DeliveryChanged,
    MessageAppended,
    QueueChanged,
    ReadMarked,
    Revoked,
    Typing,
    VisitorErased,
    VisitorMerged,
)
from papote.frames import SHARED_FRAMES, may_see, render
from papote.protocol import Endpoint, encode
from papote.types import Frame, PrincipalKind

if TYPE_CHECKING:
    from papote.conversations import Chat

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
#: How long a resume waits for its subscriptions to be live on the broker before reading the history
#: anyway. A broker that is down must not stop clients catching up from the store; what they miss live
#: meanwhile reaches them through the gap repair when the broker is back.
SUBSCRIBE_WAIT_SECS = 2.0

#: Messages acknowledged on one socket that it remembers (`Connection.acked`): a socket has a few sends
#: in flight, and a copy that could follow an ack arrives within seconds of it.
ACKED_KEPT = 64

AUDIENCES = (Endpoint.VISITOR, Endpoint.AGENT)


def rendered(bus_event: BusEvent, audience: Endpoint) -> bytes | None:
    """The encoded frame `audience` may see for this publication (None: nothing), rendered once."""
    cache = bus_event.rendered
    if cache is None:
        cache = bus_event.rendered = {}
    elif audience in cache:
        return cache[audience]
    event = bus_event.event
    shared = SHARED_FRAMES.get(type(event))
    if shared is not None:  # one encoding, then each audience sees it or not
        data = encode(shared(event))
        for each in AUDIENCES:
            cache[each] = data if may_see(event, each) else None
        return cache[audience]
    frame = render(event, audience)
    cache[audience] = found = None if frame is None else encode(frame)
    return found


def _held_under(bus_event: BusEvent) -> str:
    """The conversation whose hold a publication waits behind ("" for none: inbox and site frames)."""
    event = bus_event.event
    if isinstance(event, MessageAppended | ReadMarked | Typing | QueueChanged | DeliveryChanged | AttachmentsAdded):
        return event.conversation_id
    return ""


@dataclass(eq=False)
class Connection:
    principal: Principal
    endpoint: Endpoint
    queue_limit: int
    #: Called once when the connection must be closed (slow consumer, revoked session…).
    on_close: Callable[[CloseCode, str], None]
    #: The publisher name on the bus: this node's id and a counter, unique across nodes.
    id: str = field(default_factory=lambda: f"{NODE_ID}.{next(_ids)}")
    topics: set[str] = field(default_factory=set)
    #: Conversations an agent asked for explicitly (kept when assignment changes).
    explicit: set[str] = field(default_factory=set)
    queue: asyncio.Queue[bytes] = field(init=False)
    closed: bool = False
    #: Set by the agent endpoint: decides which conversations an agent follows as assignments change.
    on_conversation: Callable[[Connection, ConversationChanged], None] | None = None
    #: Digest of the agent session this socket authenticated with (logout closes only its sockets).
    session: str | None = None
    #: Set by the socket's session: writes a frame now if nothing is ahead of it (True), else the frame
    #: queues. Most frames find the socket idle and never wake the writer task (web/live.py).
    write_now: Callable[[bytes], bool] | None = None
    #: Conversations being resumed: their live frames wait here until the history has been queued, so
    #: the client gets the gap, then what followed, in seq order and once.
    holding: dict[str, list[BusEvent]] = field(default_factory=dict)
    #: Held conversations whose `resume` is reading their history right now: only that resume releases
    #: them (with the seq its history reached), never the welcome's grace timer.
    resuming: set[str] = field(default_factory=set)
    #: Per resumed conversation, the last seq its history reached. A message committed just before the
    #: history read but fanned out just after it would otherwise reach this client twice.
    replayed_upto: dict[str, int] = field(default_factory=dict)
    #: The last messages acknowledged on this socket, as (conversation, seq). A live copy of one that
    #: does not name this socket as its origin is not sent back to it: after a reconnect the client
    #: resends what was not acked, the store's dedupe acks it with the first copy's seq, and that first
    #: copy's publication (from the old socket, or read back from the store by a gap repair, without
    #: an origin) would reach the socket that has just been told of it. Oldest first (a dict keeps its
    #: order): the first goes when there are more than ACKED_KEPT.
    acked: dict[tuple[str, int], None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.queue_limit)

    def push(self, data: bytes) -> None:
        if self.closed:
            return
        write_now = self.write_now
        if write_now is not None and self.queue.empty() and write_now(data):
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.close(CloseCode.SLOW_CONSUMER, "send queue overflowed; reconnect and resume")

    def close(self, code: CloseCode, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.on_close(code, reason)

    def listen(self, topic: str, bus_event: BusEvent) -> None:
        """Bus listener: decide what this connection receives, render it for its audience, queue it."""
        if bus_event.origin == self.id or self.closed:
            return
        event = bus_event.event
        kind = type(event)
        if kind is MessageAppended:  # the hot path: most publications are messages
            if self.replayed_upto and event.seq <= self.replayed_upto.get(event.conversation_id, 0):  # type: ignore[union-attr]
                return
            if self.acked and (event.conversation_id, event.seq) in self.acked:  # type: ignore[union-attr]
                return
        elif kind is Revoked:
            assert isinstance(event, Revoked)
            if event.site is not None:  # a membership began, ended or was disabled: the rest of the account stays
                if event.site in self.principal.roles or event.joined:
                    self.close(CloseCode.MEMBERSHIP_CHANGED, "your access to a site changed; reconnect")
            elif event.session in (None, self.session) and event.keep != self.session:
                self.close(CloseCode.SESSION_REVOKED, "session ended")
            return
        elif kind is VisitorErased:
            if event.visitor_id == self.principal.id:  # type: ignore[union-attr]
                self.close(CloseCode.VISITOR_ERASED, "this visitor was erased")
            return
        elif kind is VisitorMerged:
            # The token this socket came with opens the kept visitor now: reconnecting makes it them.
            if event.from_id == self.principal.id:  # type: ignore[union-attr]
                self.close(CloseCode.GOING_AWAY, "this visitor was merged into another; reconnect")
            return
        elif kind is ConversationChanged and self.on_conversation is not None:
            self.on_conversation(self, event)  # type: ignore[arg-type]
        if self.holding:
            cid = _held_under(bus_event)
            if cid in self.holding:
                held = self.holding[cid]
                held.append(bus_event)
                if len(held) > MAX_HELD:  # a client that never resumes does not get to grow this
                    self.release(cid, 0)
                return
        cache = bus_event.rendered
        data = cache[self.endpoint] if cache is not None and self.endpoint in cache else rendered(
            bus_event, self.endpoint)
        if data is not None:
            self.push(data)

    def acknowledged(self, conversation_id: str, seq: int) -> None:
        """An `ack` for this message went out on this socket (see `acked`)."""
        key = (conversation_id, seq)
        if key not in self.acked:
            self.acked[key] = None
            if len(self.acked) > ACKED_KEPT:
                del self.acked[next(iter(self.acked))]

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
        for bus_event in self.holding.pop(conversation_id, []):
            event = bus_event.event
            if isinstance(event, MessageAppended) and event.message.seq <= upto_seq:
                continue  # the history had it (other frames, read marks included, still go)
            data = rendered(bus_event, self.endpoint)
            if data is not None:
                self.push(data)


class Hub:
    """The registry of this node's connections, and their bus subscriptions."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.connections: dict[str, Connection] = {}
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

    def subscribe(self, conn: Connection, topic: str) -> Awaitable[None]:
        """Follow `topic` on `conn` now; the result completes once the broker delivers it too."""
        if topic not in conn.topics:
            conn.topics.add(topic)
            return self.bus.subscribe(topic, conn.listen)
        return self.bus.live(topic)

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

    async def resume(
        self, conn: Connection, chat: Chat, epoch: str, positions: dict[str, int],
        follow: Callable[[str], object] | None = None,
    ) -> list[str]:
        """Answer `resume` on a live connection: follow each conversation it may read (`follow` adds an
        endpoint's own bookkeeping), wait until those subscriptions are live, then queue each history;
        live frames that race the read are held and released after it, so the client sees the gap then
        what followed, in order and without duplicates. Returns the ids it follows."""
        allowed = await chat.readable(conn.principal, positions)
        waits: list[Awaitable[None]] = []
        for cid in allowed:
            conn.resume_started(cid)
            if follow is not None:
                follow(cid)
            waits.append(self.subscribe(conn, conv_topic(cid)))
        try:
            await _all_live(waits)
            # Ids it may not read are answered here, not looked up a second time by `history`.
            readable = set(allowed)
            frames: list[Frame] = [
                {"t": "error", "code": "not_found", "message": "no such conversation", "conversation": cid,
                 "frame": "resume"} for cid in positions if cid not in readable]
            frames += await chat.history(conn.principal, epoch, {cid: positions[cid] for cid in allowed})
        except BaseException:
            for cid in allowed:
                conn.release(cid, 0)
            raise
        for frame in frames:
            conn.push(encode(frame))
            if frame["t"] == "history":
                cid = frame["conversation"]
                seqs = [m["seq"] for m in frame["messages"]]
                upto = max(seqs) if seqs else positions[cid] if frame["recovered"] else 0
                conn.release(cid, upto)
        # Conversations followed since `welcome` but not named here: what they held goes out now.
        conn.release_all()
        return allowed


async def _all_live(waits: Iterable[Awaitable[None]]) -> None:
    pending = [w for w in waits if not _done(w)]
    if not pending:
        return
    with contextlib.suppress(TimeoutError):
        # Shielded: giving up waiting must not cancel the subscription itself.
        await asyncio.wait_for(asyncio.gather(*(asyncio.shield(w) for w in pending)), SUBSCRIBE_WAIT_SECS)


def _done(awaitable: Awaitable[None]) -> bool:
    return not isinstance(awaitable, asyncio.Future) or awaitable.done()
