"""What every part of the conversation service shares: the store, the bus, presence, and the caches
of conversation refs, agents and site keys; publishing a conversation's new state; system events in the
seq stream; background tasks. The parts (queue.py, messages.py, lifecycle.py, timeline.py) build on it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from papote.authz import Action, ConversationRef, Principal, authorize
from papote.bus import Bus
from papote.bus.topics import conv_topic, site_topic, visitor_topic
from papote.config import Config
from papote.errors import NotFound
from papote.events import ConversationChanged, MessageAppended
from papote.frames import agent_author, conversation_view, visitor_summary
from papote.presence import Presence
from papote.protocol import Endpoint
from papote.routing import Told
from papote.store import Agent, Attachment, Conversation, Message, NewMessage, Store, Visitor
from papote.store.outbox import Delivery
from papote.types import AuthorKind, Frame, MessageKind


class OutboundFor(Protocol):
    """The messaging channels' hook: the deliveries a text, its files (and the bot's options, drawn as the
    app's buttons) must be stored with in a channel conversation, [] elsewhere."""

    def __call__(self, site_id: str, conversation_id: str, body: str, files: list[Attachment],
                 options: Sequence[Mapping[str, Any]] = ...) -> Awaitable[list[Delivery]]: ...

log = logging.getLogger("papote.chat")

#: Conversation refs cached for authorization: ~150 bytes each, so 100k is ~15 MB for a hot path with
#: no database read.
REF_CACHE = 100_000

#: A cached agent or site is read again after this long, even if no node said it changed (the
#: invalidation on the bus is the fast path; this is the safety net when the broker lost it).
CACHE_TTL_SECS = 5.0


class ChatBase:
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
        #: Conversations this node knows are snoozed (snooze.py): a visitor's message to one wakes it
        #: at once, with no read on the append path.
        self.snoozed: set[str] = set()
        #: Per site, what each waiting visitor was last told (place, estimate): moving up the line
        #: never raises an estimate. Pruned to the line whenever the whole line is published.
        self._told: dict[str, dict[str, Told]] = {}
        #: Per conversation, the last fan-out left to `finish` (it awaits summaries or routing). Messages
        #: committed after it wait their turn behind it, even those that need no more than a publish:
        #: one batch can commit a reply that starts a claim and, after the claim, more replies, and
        #: those must not overtake the first on its way to the visitor.
        self._fanout_tails: dict[str, asyncio.Future[None]] = {}
        #: (conversation, seq) → (the fan-out to wait for, this one's own), from `finish_simple` to `finish`.
        self._fanout_turns: dict[tuple[str, int], tuple[asyncio.Future[None] | None, asyncio.Future[None]]] = {}
        #: (conversation, seq) → the latest tap on that message's quick replies not committed yet: the
        #: next tap waits for it, then finds it answered (`submit_tap`).
        self._taps: dict[tuple[str, int], asyncio.Future[None]] = {}
        #: Set by the application to announce presence (with load) when assignments change.
        self.on_load_change: Callable[[str], Awaitable[None]] | None = None
        #: Set by the application to tell the other nodes a cached record changed (kind, id).
        self.on_invalidate: Callable[[str, str], None] | None = None
        #: Set by the application: moderation of a visitor's message before it is stored (principal,
        #: site, conversation, client_msg_id, body, data, and the outbox rows and conversation id its
        #: append carries: a held message keeps them for its release); raises `Blocked` or `Held`
        #: (papote/moderation.py).
        self.screen: Callable[[Principal, str, str | None, str, str, dict[str, Any] | None, list[Delivery],
                               str | None], Awaitable[None]] | None = None
        #: Set by the application: the deliveries a closing queues with its `closed` event, in that
        #: append's own transaction, so a node dying after the close cannot lose them (transcripts.py:
        #: the transcript at close, decided there).
        self.closing_deliveries: Callable[[Conversation], Awaitable[list[Delivery]]] | None = None
        #: Set by the application: what follows a closing once it is published (the NPS survey, nps.py).
        self.on_closed: Callable[[Conversation], Awaitable[Any]] | None = None
        #: Set by the messaging channels: the deliveries an agent's text to a conversation must be queued
        #: with, in the append's own transaction (raises a PapoteError when it cannot go, e.g. WhatsApp's
        #: 24-hour window); and what to call once such an append is committed.
        self.outbound_for: OutboundFor | None = None
        self.on_outbound: Callable[[], None] | None = None
        #: Set by the application: whether the site's bot takes a new conversation (bot/runner.py); if
        #: it does, routing waits for the bot's handover.
        self.bot_takes: Callable[[Conversation], Awaitable[bool]] | None = None

    # -- lookups -------------------------------------------------------------------------------------
    async def ref(self, conversation_id: str) -> ConversationRef:
        ref = self._refs.get(conversation_id)
        if ref is None:
            conv = await self.store.get_conversation(conversation_id)
            if conv is None:
                raise NotFound()
            ref = self._remember(conv)
        return ref

    def known_site(self, conversation_id: str) -> str | None:
        """The conversation's site if this node has it at hand (no read): for observers on the hot path."""
        ref = self._refs.get(conversation_id)
        return ref.site_id if ref is not None else None

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
        self, conv: Conversation, event: str, actor: Principal | None, data: dict[str, Any] | None = None,
        *, deliveries: list[Delivery] | None = None,
    ) -> Message:
        appended = await self.store.append(
            NewMessage(
                site_id=conv.site_id, conversation_id=conv.id,
                author_kind=actor.author_kind if actor else AuthorKind.SYSTEM,
                author_id=actor.id if actor else "", author_name=actor.name if actor else "",
                kind=MessageKind.EVENT,
                body="", event=event, data=data, deliveries=deliveries or [],
            )
        )
        self.bus.publish(conv_topic(conv.id), MessageAppended(appended.message))
        return appended.message


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
