"""The bot at work: the I/O around the pure stepper (stepper.py).

    visitor's message COMMITs ──▶ Bot.feed(conversation) ──▶ session (store) ─┐
                                                                              ▼
            for each visitor text past `seen_seq`: step(tree, state, input, context) → outputs
                 Say      → store.append(author kind `bot`, client_msg_id "bot:<conv>:<seq>:<n>") → bus
                 Remember → the conversation's contact email (the email continuation's address)
                 Handover → a `handover` event, the session released, routing (as for any newcomer)
                 Resolved → the session is `resolved` (still held: a later message hands over)
            then the session's `seen_seq` moves to that message by compare-and-set.

Crash safety: the bot's messages carry ids derived from (conversation, trigger seq, output index), and
the stepper is deterministic, so running a trigger again — after a crash between an append and the
save, or on two nodes at once — finds its messages already stored (the store's dedupe on
(author_id, client_msg_id)) and posts nothing twice. A run that finds its id taken by another text (the
context changed in between, e.g. agents came online) keeps the stored one. The sweep (`sweep`, on every
node, also at start) feeds what a crash or a lost wake-up left unread.

No bot message after an agent joins: the conversation is read again before each message; an agent who
has it ends the session (`release_bot(…, "agent")`, also done by `Chat.assign`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from papote import quick_replies
from papote.bot.stepper import (
    Context,
    Handover,
    Input,
    Output,
    Phase,
    Remember,
    Resolved,
    Say,
    State,
    step,
    tapped,
)
from papote.bot.tree import check_bot
from papote.bus import Bus
from papote.bus.topics import conv_topic
from papote.conversations import Chat
from papote.errors import Conflict, PapoteError
from papote.events import MessageAppended
from papote.ids import now_ms
from papote.sites import answering, settings_of
from papote.store import Conversation, Message, NewMessage, Site, Store
from papote.store.bots import HELD
from papote.store.outbox import Delivery
from papote.types import AuthorKind, ConversationStatus, MessageKind, PrincipalKind


class Mailer(Protocol):
    enabled: bool


class Host(Protocol):
    """What the bot needs of its node (papote.node.Papote)."""

    store: Store
    bus: Bus
    chat: Chat

    @property
    def email(self) -> Mailer: ...

    async def site_by_id(self, site_id: str) -> Site | None: ...
    async def agents_online(self, site_id: str) -> int: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...


log = logging.getLogger("papote.bot")

#: Visitor messages read per run: a visitor does not outpace the bot by more than a few.
BATCH = 20
#: How often the sweep looks for input a crash left unread. A visitor who wrote during a crash waits this
#: long at most after the restart (the sweep also runs at start).
SWEEP_SECS = 5.0
#: Sessions the sweep feeds per round.
SWEEP_BATCH = 100
#: How long "this site has no bot" is believed before the site is read again. Every visitor text passes
#: the observer: on a site without a bot it should cost a dictionary lookup, not a task. A site that
#: turns its bot on is seen at once where the bot takes a conversation, elsewhere within this (and the
#: sweep feeds what was skipped meanwhile).
NO_BOT_TTL_SECS = 5.0
#: Sites remembered so (a bound: a server of many sites forgets them all at once and reads them again).
NO_BOT_SITES = 10_000


def bot_of(site: Site) -> dict[str, Any] | None:
    """The site's bot if it is on and has a tree, else None."""
    bot = settings_of(site).get("bot") or {}
    if not bot.get("enabled") or not bot.get("nodes"):
        return None
    return check_bot(bot) if "texts" not in bot else bot


def message_id(conversation_id: str, trigger_seq: int, index: int) -> str:
    """The `client_msg_id` of the bot's `index`-th output for the visitor message at `trigger_seq`."""
    return f"bot:{conversation_id}:{trigger_seq}:{index}"


class Bot:
    def __init__(self, papote: Host) -> None:
        self.papote = papote
        self.store = papote.store
        self._locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        #: Sites found without a bot, until when (monotonic): the observer's shortcut.
        self._no_bot: dict[str, float] = {}

    # -- entry points ----------------------------------------------------------------------------------
    async def takes(self, conv: Conversation) -> bool:
        """A new conversation: if its site has a bot, the bot holds it (routing leaves it alone) and
        starts on its first message. Called before routing would be."""
        try:
            site = await self.papote.site_by_id(conv.site_id)
            if site is None or bot_of(site) is None:
                return False
            await self.store.start_bot(conv.id, conv.site_id, now_ms())
            self._no_bot.pop(conv.site_id, None)
        except Exception:
            # No session, no hold: routing takes the conversation as if there were no bot.
            log.exception("the bot could not take %s", conv.id)
            return False
        self.papote.spawn(self.feed(conv.id))
        return True

    def observe(self, topic: str, event: object) -> None:
        """A bus observer: a visitor's text this node committed may be input for the bot."""
        if (isinstance(event, MessageAppended) and event.message.author_kind is AuthorKind.VISITOR
                and event.message.kind is MessageKind.TEXT and event.message.seq > 1):
            site_id = self.papote.chat.known_site(event.message.conversation_id)
            if site_id is not None and self._no_bot.get(site_id, 0.0) > time.monotonic():
                return  # a site without a bot: nothing to feed, no task to spawn
            self.papote.spawn(self._maybe_feed(event.message.conversation_id))

    async def _maybe_feed(self, conversation_id: str) -> None:
        ref = await self.papote.chat.ref(conversation_id)
        site = await self.papote.site_by_id(ref.site_id)
        if site is not None and bot_of(site) is not None:  # sites without a bot pay no read
            await self.feed(conversation_id)
        elif site is not None:
            if len(self._no_bot) > NO_BOT_SITES:
                self._no_bot.clear()
            self._no_bot[site.id] = time.monotonic() + NO_BOT_TTL_SECS

    async def start(self) -> None:
        self._task = asyncio.create_task(self._sweep_forever(), name="papote-bot-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("bot sweep failed")
            await asyncio.sleep(SWEEP_SECS)

    async def sweep(self) -> int:
        """Feed the held sessions with unread input; how many.

        Every node sweeps, without a leader lock: feeding is idempotent (the dedupe of the bot's ids, the
        compare-and-set of `seen_seq`), so two nodes on one session cost a wasted read, never a second
        message — and a leader lock on PostgreSQL holds a pool connection while the sweep reads on
        another, which with the email scan's lock can leave a small pool with nothing for requests."""
        pending = await self.store.bots_pending(SWEEP_BATCH)
        for session in pending:
            await self.feed(session.conversation_id)
        return len(pending)

    # -- one conversation ----------------------------------------------------------------------------
    async def feed(self, conversation_id: str) -> None:
        """Give the bot every visitor text of the conversation it has not dealt with yet."""
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        try:
            async with lock:
                await self._feed(conversation_id)
        finally:
            if not lock.locked() and self._locks.get(conversation_id) is lock:
                del self._locks[conversation_id]

    async def _feed(self, cid: str) -> None:
        session = await self.store.get_bot(cid)
        if session is None or session.status not in HELD:
            return
        site = await self.papote.site_by_id(session.site_id)
        bot = bot_of(site) if site is not None else None
        if bot is None:  # the site turned its bot off meanwhile: a person takes it from here
            await self._release(cid, "disabled")
            return
        state, seen = State.of(session.state), session.seen_seq
        cursor = seen
        while True:
            messages = await self.store.messages_after(cid, cursor, BATCH, include_notes=False)
            if not messages:
                return
            cursor = messages[-1].seq
            inputs = [m for m in messages if m.author_kind is AuthorKind.VISITOR and m.kind is MessageKind.TEXT]
            for message in inputs:
                state, seen, go_on = await self._step(cid, bot, site, state, seen, message)  # type: ignore[arg-type]
                if not go_on:
                    return

    async def _step(self, cid: str, bot: dict[str, Any], site: Site, state: State, seen: int,
                    message: Message) -> tuple[State, int, bool]:
        """Feed one visitor message; (state, seen seq, whether to go on with the next)."""
        conv = await self.store.get_conversation(cid)
        if conv is None or conv.assignee_id is not None or conv.status is not ConversationStatus.OPEN:
            await self._release(cid, "agent")
            return state, seen, False
        ctx = await self._context(conv, site)
        state, outputs = step(bot, state, _input(bot, state, message), ctx)
        if not await self._perform(conv, bot, message.seq, outputs):
            return state, seen, False  # an agent joined between two messages: the bot stops there
        status = ("handover" if state.phase is Phase.HANDED
                  else "resolved" if state.phase is Phase.RESOLVED else "active")
        handover = next((o for o in outputs if isinstance(o, Handover)), None)
        if handover is not None and handover.group:
            await self.store.set_conversation_group(cid, handover.group)  # before routing can see it
        if not await self.store.save_bot(cid, expect_seq=seen, seen_seq=message.seq, status=status,
                                         state=state.as_dict(), reason=state.reason or "", at=now_ms()):
            return state, seen, False  # another run recorded this step first: it carries on
        if handover is not None:
            await self._route(conv, handover)
            return state, message.seq, False
        return state, message.seq, True

    async def _context(self, conv: Conversation, site: Site) -> Context:
        settings = settings_of(site)
        visitor = await self.store.get_visitor(conv.visitor_id)
        page = (visitor.page.get("url") if visitor else "") or ""
        language = (visitor.device.get("locale") if visitor else None) or None
        if settings.get("locale") in ("en", "fr"):
            language = language if language and language[:2] in ("en", "fr") else settings["locale"]
        email_ok = self.papote.email.enabled and bool(settings.get("email_continuation"))
        return Context(
            open_now=answering(settings),
            agents_online=await self.papote.agents_online(site.id),
            page_url=str(page), language=language,
            email=conv.contact_email or (visitor.email if visitor else ""),
            # Without a relay an address is of no use: the bot does not ask for one then.
            can_email=email_ok,
        )

    async def _perform(self, conv: Conversation, bot: dict[str, Any], trigger: int, outputs: list[Output]) -> bool:
        """Do what the step said; False when an agent took the conversation before the bot spoke."""
        for index, out in enumerate(outputs):
            if isinstance(out, Say):
                current = await self.store.get_conversation(conv.id)
                if current is None or current.assignee_id is not None:
                    await self._release(conv.id, "agent")
                    return False
                data = {"quick_replies": [{"label": label, "value": value} for label, value in out.options]}
                await self._append(conv, bot, trigger, index, MessageKind.TEXT, out.text,
                                   data if out.options else None)
            elif isinstance(out, Handover):
                await self._append(conv, bot, trigger, index, MessageKind.EVENT, "",
                                   {"reason": out.reason, "group": out.group}, event="handover")
            elif isinstance(out, Remember) and out.field == "email":
                current = await self.store.get_conversation(conv.id)
                if current is not None and current.contact_email == out.value:
                    continue  # a re-run after a crash: the address (and its event) is there already
                visitor = await self.store.get_visitor(conv.visitor_id)
                principal = _visitor_principal(conv)
                await self.papote.chat.contact(principal, out.value, conv.id,
                                               update_visitor=not (visitor and visitor.verified))
            elif isinstance(out, Resolved):
                pass  # the session's status says it (saved with the step)
        return True

    async def _append(self, conv: Conversation, bot: dict[str, Any], trigger: int, index: int, kind: MessageKind,
                      body: str, data: dict[str, Any] | None, event: str | None = None) -> None:
        try:
            deliveries = await self._outbound(conv, kind, body, data)
            appended = await self.store.append(NewMessage(
                site_id=conv.site_id, conversation_id=conv.id, author_kind=AuthorKind.BOT,
                author_id=f"bot:{conv.site_id}", author_name=bot["name"], kind=kind, body=body,
                client_msg_id=message_id(conv.id, trigger, index), event=event, data=data, deliveries=deliveries))
        except Conflict:
            return  # a run before the crash said it with other words (the context changed): keep those
        except PapoteError:
            log.exception("the bot could not post in %s", conv.id)
            return
        if not appended.duplicate:
            self.papote.bus.publish(conv_topic(conv.id), MessageAppended(appended.message))
            if deliveries and self.papote.chat.on_outbound is not None:
                self.papote.chat.on_outbound()

    async def _outbound(self, conv: Conversation, kind: MessageKind, body: str,
                        data: dict[str, Any] | None) -> list[Delivery]:
        """On a messaging app, the bot's text goes out like an agent's, queued in the append's own
        transaction (a re-run after a crash finds the message stored and queues nothing again), with its
        options as the app's own buttons where it has them (else numbered lines: the channel's adapter
        decides). A channel that cannot carry it now (a closed window) gets nothing, and the message
        stays in the conversation for the agent who takes over."""
        if kind is not MessageKind.TEXT or self.papote.chat.outbound_for is None:
            return []
        options = (data or {}).get(quick_replies.OPTIONS_KEY) or []
        try:
            return await self.papote.chat.outbound_for(conv.site_id, conv.id, body, [], options)
        except PapoteError as refused:
            log.info("the bot's message in %s does not go out on its channel: %s", conv.id, refused)
            return []

    async def _release(self, cid: str, reason: str) -> None:
        await self.store.release_bot(cid, reason, now_ms())

    async def _route(self, conv: Conversation, handover: Handover) -> None:
        """The conversation joins the line like any newcomer: routing assigns it or tells its place."""
        current = await self.store.get_conversation(conv.id) or conv
        await self.papote.chat.publish_conversation(current)
        await self.papote.chat.route(conv.site_id, returning_visitor=conv.visitor_id, newcomer=current)


def _input(bot: dict[str, Any], state: State, message: Message) -> Input:
    """What the visitor's message says to the bot: a widget's tap (its quick reply, read from the stored
    message), a messaging app's tap (its button's payload, checked against what the bot offers now), or
    a text."""
    data = message.data or {}
    choice = data.get(quick_replies.CHOICE_KEY)
    if isinstance(choice, dict) and choice.get("value"):
        return Input(message.body, str(choice["value"]))
    channel = data.get("channel")
    tap = channel.get("tap") if isinstance(channel, dict) else None
    if isinstance(tap, str) and tap:
        return tapped(bot, state, message.body, tap)
    return Input(message.body)


def _visitor_principal(conv: Conversation) -> Any:
    from papote.authz import Principal

    return Principal(PrincipalKind.VISITOR, conv.visitor_id, site_id=conv.site_id)
