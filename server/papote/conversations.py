"""The conversation rules: send, resume, read, typing, and every state change, for any principal.

`Chat` is the one service both the WebSocket endpoints and the REST API call. Each method authorizes
through `authz.authorize`, writes through the store (committed before it returns), then publishes on the
bus what changed. It returns frames for the caller to send; it never touches a socket.

A message's trip: `send` → `store.append` (seq assigned, deduped on client_msg_id, COMMIT) → the caller
sends `ack` → the bus carries a `MessageAppended` event to every connection on `conv:<id>` (agents, the
visitor's other tabs and devices), each of which renders the frame its audience may see. State changes
are `event` messages in the same seq stream, plus a `ConversationChanged` event for inboxes. Events are
published only after the store has committed what they describe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from papote.authz import Action, ConversationRef, Principal, authorize
from papote.bus import Bus
from papote.bus.topics import agent_topic, conv_topic, public_topic, site_topic, visitor_topic
from papote.config import Config
from papote.errors import Conflict, ErrorCode, NotFound, PapoteError
from papote.events import ConversationChanged, MessageAppended, QueueChanged, ReadMarked, Typing
from papote.frames import agent_author, conversation_view, message_dict, message_frame, visitor_summary
from papote.ids import now_ms
from papote.presence import Presence
from papote.protocol import Endpoint
from papote.routing import Candidate, pick_agent, wait_estimate
from papote.sites import settings_of
from papote.store import (
    Agent,
    Appended,
    Conversation,
    ConversationChanges,
    Message,
    NewMessage,
    Store,
    Visitor,
    VisitorChanges,
)
from papote.types import AuthorKind, ConversationStatus, Frame, MessageKind, PrincipalKind

log = logging.getLogger("papote.chat")

#: Conversation refs cached for authorization: ~150 bytes each, so 100k is ~15 MB for a hot path with
#: no database read.
REF_CACHE = 100_000
#: The page a client gets when it cannot be caught up message by message.
PAGE = 50
#: A cached agent or site is read again after this long, even if no node said it changed (the
#: invalidation on the bus is the fast path; this is the safety net when the broker lost it).
CACHE_TTL_SECS = 5.0
#: Recent closed conversations used for the wait estimate.
HANDLING_SAMPLE = 50
#: Messages read back to find whether a closed conversation was rated since its latest closing.
RATING_LOOKBACK = 50
#: Assignments the store may refuse in one routing pass (another node took the conversation or the
#: agent's last slot) before this node leaves the rest of the line to the node that is winning.
ROUTE_REFUSALS = 8


__all__ = ["Chat", "agent_author", "agent_topic", "conv_topic", "message_dict", "message_frame",
           "public_topic", "site_topic", "visitor_summary", "visitor_topic"]


class Chat:
    def __init__(self, store: Store, bus: Bus, config: Config, presence: Presence) -> None:
        self.store = store
        self.bus = bus
        self.config = config
        self.presence = presence
        self._refs: OrderedDict[str, ConversationRef] = OrderedDict()
        #: Agents by id, each with the monotonic time its copy expires.
        self._agents: dict[str, tuple[float, Agent]] = {}
        self._route_locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._site_keys: dict[str, str] = {}  # site keys never change
        self._rating: set[str] = set()  # conversations whose rating is being stored
        #: Per conversation, the last fan-out left to `finish` (it awaits summaries or routing). Messages
        #: committed after it wait their turn behind it, even those that need no more than a publish:
        #: one batch can commit a reply that starts a claim and, after the claim, more replies, and
        #: those must not overtake the first on its way to the visitor.
        self._fanout_tails: dict[str, asyncio.Future[None]] = {}
        #: (conversation, seq) → (the fan-out to wait for, this one's own), from `finish_simple` to `finish`.
        self._fanout_turns: dict[tuple[str, int], tuple[asyncio.Future[None] | None, asyncio.Future[None]]] = {}
        #: Set by the application to announce presence (with load) when assignments change.
        self.on_load_change: Callable[[str], Awaitable[None]] | None = None
        #: Set by the application to tell the other nodes a cached record changed (kind, id).
        self.on_invalidate: Callable[[str, str], None] | None = None

    # -- lookups -------------------------------------------------------------------------------------
    async def ref(self, conversation_id: str) -> ConversationRef:
        ref = self._refs.get(conversation_id)
        if ref is None:
            conv = await self.store.get_conversation(conversation_id)
            if conv is None:
                raise NotFound()
            ref = self._remember(conv)
        return ref

    def _remember(self, conv: Conversation) -> ConversationRef:
        ref = ConversationRef(conv.id, conv.site_id, conv.visitor_id)
        self._refs[conv.id] = ref
        if len(self._refs) > REF_CACHE:
            self._refs.popitem(last=False)
        return ref

    def forget_visitor(self, visitor_id: str, *, tell: bool = True) -> None:
        """After a merge the refs of the merged visitor are stale (on every node: `tell` them)."""
        for cid in [c for c, r in self._refs.items() if r.visitor_id == visitor_id]:
            del self._refs[cid]
        if tell and self.on_invalidate is not None:
            self.on_invalidate("visitor", visitor_id)

    async def conversation_for(self, principal: Principal, conversation_id: str, action: Action) -> Conversation:
        ref = await self.ref(conversation_id)
        authorize(principal, action, ref.site_id, ref)
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            raise NotFound()
        return conv

    async def agent(self, agent_id: str) -> Agent | None:
        cached = self._agents.get(agent_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        agent = await self.store.get_agent(agent_id)
        if agent is not None:
            self._agents[agent_id] = (time.monotonic() + CACHE_TTL_SECS, agent)
        return agent

    def agent_changed(self, agent: Agent) -> None:
        """This node changed `agent`: keep the new copy, and tell the other nodes to drop theirs."""
        self._agents[agent.id] = (time.monotonic() + CACHE_TTL_SECS, agent)
        if self.on_invalidate is not None:
            self.on_invalidate("agent", agent.id)

    def forget_agent(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)

    # -- summaries -----------------------------------------------------------------------------------
    async def summaries(
        self, convs: list[Conversation], reader: Principal
    ) -> list[Frame]:
        """Conversation summaries as `reader` sees them (read positions, unread, queue, last message)."""
        if not convs:
            return []
        ids = [c.id for c in convs]
        reads = await self.store.reads(ids)
        unread = await self.store.count_unread(ids, reader.author_kind, reader.id)
        is_visitor = reader.kind is PrincipalKind.VISITOR
        visitors = {} if is_visitor else await self.store.get_visitors([c.visitor_id for c in convs])
        queue = await self.queue_positions(convs)
        latest = await self.store.last_messages(ids, include_notes=not is_visitor)
        out = []
        for conv in convs:
            frame = await self._summary(conv, "visitor" if is_visitor else "agent",
                                        visitors.get(conv.visitor_id))
            marks = reads.get(conv.id, {})
            mine = marks.get(reader.id, ("", 0))[1]
            peer_kind = "agent" if is_visitor else "visitor"
            frame["read_seq"] = mine
            frame["peer_read_seq"] = max((s for k, s in marks.values() if k == peer_kind), default=0)
            frame["unread"] = unread.get(conv.id, 0)
            frame["queue"] = queue.get(conv.id)
            last = latest.get(conv.id)
            frame["last_message"] = message_dict(last) if last else None
            out.append(frame)
        return out

    async def _site_key(self, site_id: str) -> str:
        key = self._site_keys.get(site_id)
        if key is None:
            site = await self.store.get_site(site_id)
            key = self._site_keys[site_id] = site.key if site else ""
        return key

    async def _summary(self, conv: Conversation, audience: str, visitor: Visitor | None = None) -> Frame:
        assignee = await self.agent(conv.assignee_id) if conv.assignee_id else None
        if audience == "agent":
            if visitor is None:
                visitor = await self.store.get_visitor(conv.visitor_id)
            return conversation_view(conv, await self._site_key(conv.site_id),
                                     agent_author(assignee) if assignee else None,
                                     visitor_summary(visitor) if visitor else None, Endpoint.AGENT)
        return conversation_view(conv, await self._site_key(conv.site_id),
                                 agent_author(assignee) if assignee else None, None, Endpoint.VISITOR)

    async def conversation_changed(self, conv: Conversation) -> ConversationChanged:
        """The event for a conversation's new state, with what its summaries show."""
        assignee = await self.agent(conv.assignee_id) if conv.assignee_id else None
        visitor = await self.store.get_visitor(conv.visitor_id)
        return ConversationChanged(conv, await self._site_key(conv.site_id),
                                   agent_author(assignee) if assignee else None,
                                   visitor_summary(visitor) if visitor else None)

    async def publish_conversation(self, conv: Conversation) -> None:
        """Tell the site's agents and the visitor's connections that a conversation changed."""
        event = await self.conversation_changed(conv)
        self.bus.publish(site_topic(conv.site_id), event)
        self.bus.publish(visitor_topic(conv.visitor_id), event)

    # -- messages ------------------------------------------------------------------------------------
    async def send(
        self,
        principal: Principal,
        conversation_id: str | None,
        client_msg_id: str,
        body: str,
        *,
        note: bool = False,
        origin: str | None = None,
    ) -> tuple[Frame, Appended]:
        """Store a message and fan it out. Returns the `ack` frame (only after COMMIT)."""
        stored = await self.submit(principal, conversation_id, client_msg_id, body, note=note)
        return await self.complete(principal, stored, note=note, origin=origin)

    async def submit(
        self,
        principal: Principal,
        conversation_id: str | None,
        client_msg_id: str,
        body: str,
        *,
        note: bool = False,
    ) -> asyncio.Future[Appended]:
        """First half of `send`: authorize, then queue the append. Returns as soon as it is queued, so a
        connection can submit its next frame while this one commits; appends keep submission order."""
        if conversation_id is None:
            if principal.kind is not PrincipalKind.VISITOR or principal.site_id is None:
                raise PapoteError("agents must name the conversation", ErrorCode.BAD_FIELD)
            site_id = principal.site_id
            authorize(principal, Action.WRITE, site_id)
        else:
            ref = self._refs.get(conversation_id) or await self.ref(conversation_id)
            site_id = ref.site_id
            authorize(principal, Action.NOTE if note else Action.WRITE, site_id, ref)
        return self.store.append_nowait(
            NewMessage(
                site_id=site_id,
                conversation_id=conversation_id,
                author_kind=AuthorKind.VISITOR if principal.kind is PrincipalKind.VISITOR else AuthorKind.AGENT,
                author_id=principal.id,
                author_name=principal.name,
                kind=MessageKind.NOTE if note else MessageKind.TEXT,
                body=body,
                client_msg_id=client_msg_id,
                visitor_id=principal.id if principal.kind is PrincipalKind.VISITOR else None,
            )
        )

    async def complete(
        self, principal: Principal, stored: asyncio.Future[Appended], *, note: bool = False,
        origin: str | None = None,
    ) -> tuple[Frame, Appended]:
        """Second half of `send`: once committed, the `ack` (returned) and the fan-out."""
        appended = await stored
        ack = self.finish_simple(principal, appended, note=note, origin=origin)
        if ack is not None:
            return ack, appended
        return await self.finish(principal, appended, note=note, origin=origin), appended

    @staticmethod
    def _ack(message: Message) -> Frame:
        return {"t": "ack", "client_msg_id": message.client_msg_id, "conversation": message.conversation_id,
                "seq": message.seq, "ts": message.created_at}

    def finish_simple(
        self, principal: Principal, appended: Appended, *, note: bool = False, origin: str | None = None
    ) -> Frame | None:
        """The common end of a send, without awaiting: a message to a conversation that neither started,
        reopened nor waits for an agent. Returns the `ack`, or None when `finish` must do the rest."""
        if appended.duplicate:
            return self._ack(appended.message)
        conv = appended.conversation
        more = appended.created or appended.reopened is not None or (
            principal.kind is PrincipalKind.AGENT and not note and conv.status == ConversationStatus.OPEN
            and conv.assignee_id is None
        )
        if not more and conv.id not in self._fanout_tails:
            self.bus.publish(conv_topic(conv.id), MessageAppended(appended.message), origin)
            return self._ack(appended.message)
        # Its turn is taken now, in commit order: a later message settled in this same turn of the loop
        # queues behind it.
        previous = self._fanout_tails.get(conv.id)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fanout_tails[conv.id] = mine
        self._fanout_turns[(conv.id, appended.message.seq)] = (previous, mine)
        return None

    async def finish(
        self, principal: Principal, appended: Appended, *, note: bool = False, origin: str | None = None
    ) -> Frame:
        """The end of a send that changes more than the message list (inboxes, routing, claims), or that
        waits for such a send of its conversation to finish first. Called after `finish_simple`."""
        message = appended.message
        conv = appended.conversation
        previous, mine = self._fanout_turns.pop((conv.id, message.seq), (None, None))
        try:
            if previous is not None:
                await previous
            return await self._finish(principal, appended, note=note, origin=origin)
        finally:
            if mine is not None:
                mine.set_result(None)
                if self._fanout_tails.get(conv.id) is mine:
                    del self._fanout_tails[conv.id]

    async def _finish(
        self, principal: Principal, appended: Appended, *, note: bool = False, origin: str | None = None
    ) -> Frame:
        message = appended.message
        conv = appended.conversation
        if appended.created:
            self._remember(conv)
            await self.publish_conversation(conv)
        if appended.reopened is not None:
            self.bus.publish(conv_topic(conv.id), MessageAppended(appended.reopened))
            await self.publish_conversation(conv)
        self.bus.publish(conv_topic(conv.id), MessageAppended(message), origin)
        if appended.created or appended.reopened is not None:
            self._spawn(self.route(conv.site_id, returning_visitor=conv.visitor_id, newcomer=conv))
        elif (principal.kind is PrincipalKind.AGENT and not note and conv.status == ConversationStatus.OPEN
              and conv.assignee_id is None):
            # The agent who answers a waiting conversation takes it: the visitor has their person, the
            # queue moves on, and reports credit the right agent.
            self._spawn(self._claim_on_reply(principal, conv.id))
        return self._ack(message)

    async def _claim_on_reply(self, agent: Principal, cid: str) -> None:
        try:
            await self.assign(agent, cid, agent.id, claim=True)
        except (Conflict, NotFound):
            pass  # someone else took it, or it closed, in the meantime

    async def load_changed(self, *agent_ids: str | None) -> None:
        """An agent's number of open conversations changed: their `presence` frame says so."""
        if self.on_load_change is not None:
            for agent_id in {a for a in agent_ids if a}:
                await self.on_load_change(agent_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    async def drain(self) -> None:
        """Wait for background routing (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def event(
        self, conv: Conversation, event: str, actor: Principal | None, data: dict[str, Any] | None = None
    ) -> Message:
        appended = await self.store.append(
            NewMessage(
                site_id=conv.site_id, conversation_id=conv.id,
                author_kind=actor.author_kind if actor else AuthorKind.SYSTEM,
                author_id=actor.id if actor else "", author_name=actor.name if actor else "",
                kind=MessageKind.EVENT,
                body="", event=event, data=data,
            )
        )
        self.bus.publish(conv_topic(conv.id), MessageAppended(appended.message))
        return appended.message

    async def readable(self, principal: Principal, conversation_ids: Iterable[str]) -> list[str]:
        """Those of `conversation_ids` that exist and `principal` may read (a resume follows them)."""
        allowed: list[str] = []
        for cid in conversation_ids:
            try:
                ref = await self.ref(cid)
                authorize(principal, Action.READ, ref.site_id, ref)
            except NotFound:
                continue
            allowed.append(cid)
        return allowed

    async def history(
        self, principal: Principal, epoch: str, positions: dict[str, int]
    ) -> list[Frame]:
        """The `history` frames answering `resume`: the gap of each conversation, read from the store."""
        frames: list[Frame] = []
        include_notes = principal.kind is not PrincipalKind.VISITOR
        same_epoch = epoch == self.store.epoch
        for cid, last_seq in positions.items():
            try:
                ref = await self.ref(cid)
                authorize(principal, Action.READ, ref.site_id, ref)
            except NotFound:
                frames.append({"t": "error", "code": "not_found", "message": "no such conversation",
                               "conversation": cid, "frame": "resume"})
                continue
            if same_epoch:
                msgs = await self.store.messages_after(
                    cid, last_seq, self.config.resume_limit + 1, include_notes=include_notes
                )
                if len(msgs) <= self.config.resume_limit:
                    conv = await self.store.get_conversation(cid)
                    frames.append({"t": "history", "conversation": cid, "recovered": True,
                                   "messages": [message_dict(m) for m in msgs], "more": False,
                                   "last_seq": conv.last_seq if conv else last_seq})
                    continue
            frames.append(await self.page(principal, cid, None, PAGE, recovered=False))
        return frames

    async def page(
        self, principal: Principal, cid: str, before_seq: int | None, limit: int, *, recovered: bool = True
    ) -> Frame:
        ref = await self.ref(cid)
        authorize(principal, Action.READ, ref.site_id, ref)
        include_notes = principal.kind is not PrincipalKind.VISITOR
        msgs = await self.store.messages_before(cid, before_seq, limit + 1, include_notes=include_notes)
        more = len(msgs) > limit
        msgs = msgs[-limit:]
        conv = await self.store.get_conversation(cid)
        return {"t": "history", "conversation": cid, "recovered": recovered,
                "messages": [message_dict(m) for m in msgs], "more": more,
                "last_seq": conv.last_seq if conv else 0}

    async def mark_read(self, principal: Principal, cid: str, seq: int, origin: str | None) -> int:
        ref = await self.ref(cid)
        authorize(principal, Action.READ, ref.site_id, ref)
        kind = AuthorKind.VISITOR if principal.kind is PrincipalKind.VISITOR else AuthorKind.AGENT
        stored = await self.store.set_read(cid, principal.id, kind, seq)
        self.bus.publish(conv_topic(cid), ReadMarked(cid, principal.author(), stored), origin)
        return stored

    async def typing(self, principal: Principal, cid: str, on: bool, origin: str | None) -> None:
        ref = await self.ref(cid)
        authorize(principal, Action.READ, ref.site_id, ref)
        self.bus.publish(conv_topic(cid), Typing(cid, principal.author(), on), origin)

    # -- state changes -------------------------------------------------------------------------------
    async def assign(
        self, actor: Principal, cid: str, agent_id: str, *, claim: bool = False, note: str | None = None
    ) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.status != ConversationStatus.OPEN:
            raise Conflict("the conversation is closed; reopen it first")
        target = await self.agent(agent_id)
        roles = await self.store.memberships(agent_id) if target else []
        if target is None or target.disabled or conv.site_id not in {m.site_id for m in roles}:
            raise NotFound("no such agent on this site")
        previous = conv.assignee_id
        if previous == agent_id:
            return conv
        updated = await self.store.assign(cid, agent_id, now_ms(), only_if_unassigned=claim)
        if updated is None:
            current = await self.store.get_conversation(cid)
            if current is not None and current.status == ConversationStatus.OPEN and current.assignee_id == agent_id:
                return current  # routing gave it to this very agent meanwhile: the claim holds
            raise Conflict("already assigned to another agent" if claim else "the conversation is closed")
        conv = updated
        self._agents.pop(agent_id, None)
        if note:
            await self.send(actor, cid, f"transfer-{now_ms()}-{agent_id[-8:]}", note, note=True)
        event = "transferred" if previous and not claim else "assigned"
        data: dict[str, Any] = {"agent": agent_author(target)}
        if event == "transferred":
            prev = await self.agent(previous) if previous else None
            data["from"] = agent_author(prev) if prev else None
        await self.event(conv, event, actor, data)
        await self.publish_conversation(conv)
        await self.publish_queue(conv.site_id)
        await self.load_changed(agent_id, previous)
        return conv

    async def close(self, actor: Principal, cid: str) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.status == ConversationStatus.CLOSED:
            return conv
        conv = await self.store.update_conversation(
            cid, ConversationChanges(status=ConversationStatus.CLOSED, closed_at=now_ms())
        )
        await self.event(conv, "closed", actor)
        await self.publish_conversation(conv)
        await self.load_changed(conv.assignee_id)
        self._spawn(self.route(conv.site_id))
        return conv

    async def reopen(self, actor: Principal, cid: str) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.status == ConversationStatus.OPEN:
            return conv
        conv = await self.store.update_conversation(
            cid, ConversationChanges(status=ConversationStatus.OPEN, closed_at=None)
        )
        await self.event(conv, "reopened", actor)
        await self.publish_conversation(conv)
        if conv.assignee_id is None:
            self._spawn(self.route(conv.site_id))
        return conv

    async def label(self, actor: Principal, cid: str, add: list[str], remove: list[str]) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        labels = [lb for lb in conv.labels if lb not in remove]
        labels += [lb for lb in add if lb not in labels]
        if len(labels) > 20:
            raise Conflict("a conversation has at most 20 labels")
        conv = await self.store.update_conversation(cid, ConversationChanges(labels=labels))
        await self.publish_conversation(conv)
        return conv

    async def rate(self, visitor: Principal, cid: str, rating: int, comment: str) -> Conversation:
        """The visitor's rating of a closed conversation: one per closing (reopened and closed again,
        it may be rated again). An open conversation, or one already rated since it closed, is
        `conflict`."""
        conv = await self.conversation_for(visitor, cid, Action.RATE)
        if conv.status != ConversationStatus.CLOSED:
            raise Conflict("only a closed conversation can be rated")
        if cid in self._rating or await self._rated_since_closing(conv):
            raise Conflict("this conversation was already rated since it closed")
        self._rating.add(cid)  # two tabs rating at once: the second is refused, not stored
        try:
            conv = await self.store.update_conversation(
                cid, ConversationChanges(rating=rating, rating_comment=comment)
            )
            await self.event(conv, "rated", visitor, {"rating": rating, "comment": comment})
        finally:
            self._rating.discard(cid)
        await self.publish_conversation(conv)
        return conv

    async def _rated_since_closing(self, conv: Conversation) -> bool:
        if conv.rating is None:
            return False  # never rated: no need to read the events
        # Once closed, only events follow until it reopens: the latest closing is among the last few.
        recent = await self.store.messages_before(conv.id, None, RATING_LOOKBACK, include_notes=False)
        for message in reversed(recent):
            if message.event == "rated":
                return True
            if message.event == "closed":
                return False
        return True  # a rating and no closing in sight: refuse rather than rate twice

    async def contact(
        self, visitor: Principal, email: str, cid: str | None, *, update_visitor: bool = True
    ) -> None:
        if update_visitor:
            await self.store.update_visitor(visitor.id, VisitorChanges(email=email))
        if cid is not None:
            conv = await self.conversation_for(visitor, cid, Action.WRITE)
            conv = await self.store.update_conversation(cid, ConversationChanges(contact_email=email))
            await self.event(conv, "contact", visitor, {"email": email})
            await self.publish_conversation(conv)

    # -- routing -------------------------------------------------------------------------------------
    def _lock(self, site_id: str) -> asyncio.Lock:
        lock = self._route_locks.get(site_id)
        if lock is None:
            lock = self._route_locks[site_id] = asyncio.Lock()
        return lock

    async def route(
        self, site_id: str, returning_visitor: str | None = None, newcomer: Conversation | None = None,
        *, quiet: bool = False,
    ) -> None:
        """Assign queued conversations of a site while agents have free slots; update the queue.

        `newcomer` is a conversation that just joined the line: when nobody could take anything, only
        its visitor needs a `queue` frame (the others' places did not move). `quiet`: when nothing was
        assigned, nobody's place moved either (the periodic sweep).

        The asyncio lock orders this node's routing of a site; across nodes, each assignment is one
        store transaction that takes the conversation only if still unassigned and the agent only
        below capacity (`Store.assign(within_capacity=…)`), so two nodes routing one site at once can
        neither assign a conversation twice nor fill an agent's slot twice. A refusal means another
        node moved first: the loads are read again and routing goes on."""
        site = await self.store.get_site(site_id)
        if site is None:
            return
        assigned: list[tuple[Conversation, Agent]] = []
        if settings_of(site)["routing"] == "auto":
            async with self._lock(site_id):
                members = [a for a, _ in await self.store.list_agents(site_id) if not a.disabled]
                online = {a.id: a for a in members if a.id in self.presence.online([a.id])}
                if online:
                    loads = await self.store.agent_loads(list(online))
                    free = sum(max(0, self.presence.capacity_of(a.id, a.capacity) - loads[a.id])
                               for a in online.values())
                    # Only the head of the line can be served now: read no further than the free slots.
                    line = await self.store.queued(site_id, limit=free + 1) if free else []
                    at, refusals = 0, 0
                    while at < len(line):
                        conv = line[at]
                        candidates = [
                            Candidate(a.id, loads[a.id], self.presence.capacity_of(a.id, a.capacity),
                                      a.last_assigned_at)
                            for a in online.values()
                        ]
                        preferred = None
                        if returning_visitor is not None and conv.visitor_id == returning_visitor:
                            preferred = await self.store.last_agent_for_visitor(conv.visitor_id)
                        chosen = pick_agent(candidates, preferred)
                        if chosen is None:
                            break
                        now = now_ms()
                        taken = await self.store.assign(
                            conv.id, chosen, now, only_if_unassigned=True,
                            within_capacity=self.presence.capacity_of(chosen, online[chosen].capacity))
                        if taken is None:
                            # Another node moved first: it took this conversation (or it closed), or
                            # it filled the agent's last slot. Read again and go on, first in line first.
                            refusals += 1
                            if refusals > ROUTE_REFUSALS:
                                break  # another node is routing this site right now: it carries on
                            loads = await self.store.agent_loads(list(online))
                            current = await self.store.get_conversation(conv.id)
                            if current is None or current.status != ConversationStatus.OPEN or current.assignee_id:
                                at += 1
                            continue
                        at += 1
                        agent = online[chosen]
                        agent.last_assigned_at = now
                        self._agents.pop(chosen, None)
                        loads[chosen] += 1
                        assigned.append((taken, agent))
            for conv, agent in assigned:
                await self.event(conv, "assigned", None, {"agent": agent_author(agent)})
                await self.publish_conversation(conv)
                await self.load_changed(agent.id)
        if quiet and not assigned:
            return
        if newcomer is not None and not assigned:
            place = (await self.queue_positions([newcomer])).get(newcomer.id)
            if place is not None:
                self.bus.publish(visitor_topic(newcomer.visitor_id),
                                 QueueChanged(newcomer.id, place["position"], place["wait_secs"]))
            return
        await self.publish_queue(site_id)

    async def site_queue(self, site_id: str) -> list[tuple[Conversation, Frame]]:
        """The site's waiting conversations, first come first, each with {position, wait_secs}."""
        queued = await self.store.queued(site_id)
        if not queued:
            return []
        members = [a.id for a, _ in await self.store.list_agents(site_id)]
        online = len(self.presence.online(members))
        handling = await self.store.handling_times(site_id, HANDLING_SAMPLE)
        return [(conv, {"position": n, "wait_secs": wait_estimate(n, handling, online)})
                for n, conv in enumerate(queued, start=1)]

    async def publish_queue(self, site_id: str) -> None:
        for conv, place in await self.site_queue(site_id):
            self.bus.publish(visitor_topic(conv.visitor_id),
                             QueueChanged(conv.id, place["position"], place["wait_secs"]))

    async def queue_positions(self, convs: list[Conversation]) -> dict[str, Frame]:
        """{conversation id: {position, wait_secs}} for those of `convs` that wait in their site's queue
        (a count per conversation: a reconnecting crowd does not each read the whole line)."""
        places = await self.store.queue_places(convs)
        out: dict[str, Frame] = {}
        if not places:
            return out
        estimates: dict[str, tuple[list[int], int]] = {}
        teams = await self.store.site_members(list({c.site_id for c in convs if c.id in places}))
        for conv in convs:
            place = places.get(conv.id)
            if place is None:
                continue
            if conv.site_id not in estimates:
                members = [a.id for a, _ in teams[conv.site_id]]
                estimates[conv.site_id] = (await self.store.handling_times(conv.site_id, HANDLING_SAMPLE),
                                           len(self.presence.online(members)))
            handling, online = estimates[conv.site_id]
            out[conv.id] = {"position": place, "wait_secs": wait_estimate(place, handling, online)}
        return out

def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
