"""Messaging channels, the service: accounts a site connects, webhooks in, agents' replies out.

* Inbound: the route hands the raw request to `webhook`. The account's adapter answers a handshake, or
  checks the signature on the raw bytes (401/403 and nothing stored when it fails), then parses. Each
  message is stored by the same `Chat.submit` as a widget send, as the customer's visitor, with
  `client_msg_id = "<kind>:<provider id>"`: the store's unique (author, client_msg_id) makes every
  re-delivery harmless. The route answers 2xx only once every message of the request is committed, so a
  crash before that makes the provider deliver again. Receipts (sent, delivered, read, failed) are merged
  in the store, the furthest state winning, and agents are told (`DeliveryChanged`).
* Identities: a customer on an account (a phone number, a chat) is a visitor created for them, and the
  conversation their first message opened is the one every later message goes to (a closed one reopens,
  as it does for a widget visitor). The database arbitrates a newcomer's first messages, whatever their
  interleaving on one node or several: the identity and its visitor are inserted in one transaction,
  only if (account, address) has no identity yet (the loser reads the winner's back and writes nothing),
  and every first message names the conversation it opens by an id derived from that visitor
  (`ids.first_conversation_id`): the store creates it once, and a racing first message joins it. One
  customer, one visitor, one conversation.
* Outbound: `Chat.submit` asks `outbound_for` before storing an agent's reply (its text and its files:
  one delivery each, sent in order; a file is uploaded to the provider, or given as a signed link of
  ours to the one that fetches by URL, Twilio). On a channel conversation the
  window is checked first (WhatsApp: 24 hours, else the configured template; Messenger: the human-agent
  tag if enabled): a reply that cannot go is refused with `window_closed` and nothing is stored. Otherwise
  its delivery is returned and written in the append's own transaction, and the outbox worker of the
  channel (channels/outbox.py: leases, backoff, Retry-After) posts it through httpx.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import httpx

from papote.attachments import Attachments
from papote.attachments.links import PROVIDER_TTL_MS, file_link
from papote.authz import Action, Principal
from papote.bus import Bus
from papote.bus.topics import conv_topic
from papote.channels.messaging.base import (
    Adapter,
    Answer,
    Hook,
    Inbound,
    OutboundFile,
    Receipt,
    Watermark,
    WebhookRefused,
    buttons_of,
)
from papote.channels.messaging.media import MediaFetcher, jobs_for
from papote.channels.meta.messenger import Instagram, Messenger
from papote.channels.outbox import DeliveryError, Outbox
from papote.channels.telegram import Telegram
from papote.channels.twilio import Twilio
from papote.channels.whatsapp import WhatsApp
from papote.config import Config
from papote.conversations import Chat
from papote.errors import Blocked, Conflict, ErrorCode, Held, NotFound, PapoteError
from papote.events import DeliveryChanged
from papote.ids import first_conversation_id, new_id, now_ms
from papote.inbound_limits import InboundLimits
from papote.store import Attachment, Site, Store, Visitor
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.store.moderation import HeldMessage, keep_for_release
from papote.store.outbox import Delivery
from papote.types import PrincipalKind

log = logging.getLogger("papote.messaging")

#: Characters of a secret shown back after saving: enough to tell two tokens apart, too few to use one.
HINT_CHARS = 4
#: The outbox channel of every messaging delivery; the delivery's `kind` is the provider.
CHANNEL = "messaging"
#: A provider's 5xx or timeout is retried after 2 s, then 4, 8… (an HTTP API recovers faster than a mail
#: relay's greylisting, which the outbox's default of 30 s is for); 8 attempts span about 4 minutes.
FIRST_RETRY_MS = 2_000
#: Conversations remembered as web chats (their visitor is no channel's customer, and never becomes one):
#: an agent's reply to them costs no read to find no channel.
MAX_WEB_CONVERSATIONS = 100_000
#: The reason a message over the inbound budget is held with (beside the spam filter's `words`, `links`,
#: `rate`), shown to the agents who review it.
FLOOD = "flood"
#: Window fallbacks that may carry a file: Messenger's human-agent tag may; WhatsApp's template may not.
FILE_FALLBACKS = ("human_agent",)
#: Per-identity locks kept for newcomers; a bounded map (a lock is dropped once its identity is settled).
MAX_LOCKS = 10_000


class Host(Protocol):
    store: Store
    config: Config
    chat: Chat
    bus: Bus
    inbound_limits: InboundLimits
    attachments: Attachments

    async def site_by_id(self, site_id: str) -> Site | None: ...


ADAPTERS: dict[str, Adapter] = {a.kind: a for a in (WhatsApp(), Telegram(), Twilio(), Messenger(), Instagram())}


def hint(secret: str) -> str:
    return "…" + secret[-HINT_CHARS:] if len(secret) > HINT_CHARS * 2 else "…"


class Messaging:
    """One per node: a worker per provider kind, the webhook entry point and the reply hook."""

    def __init__(self, papote: Host) -> None:
        self.papote = papote
        self.store = papote.store
        self.config = papote.config
        self.http: httpx.AsyncClient | None = None
        lease = 3 * self.config.messaging_timeout_secs * 1000
        # One worker for every provider (the delivery's `kind` names it): one claim per round, not five.
        self.outbox = Outbox(self.store, CHANNEL, self._send, lease_ms=lease,
                             every_secs=self.config.messaging_check_secs, on_done=self._done,
                             first_retry_ms=FIRST_RETRY_MS)
        #: Customers' files: fetched after the webhook is answered, by a worker of their own (media.py).
        self.media = MediaFetcher(papote, ADAPTERS, papote.attachments.storage, self.base_url, lease_ms=lease,
                                  every_secs=self.config.messaging_check_secs,
                                  allow_private=self.config.media_allow_private)
        self._locks: OrderedDict[tuple[str, str], asyncio.Lock] = OrderedDict()
        self._web: OrderedDict[str, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._acks: set[asyncio.Task[None]] = set()
        papote.chat.outbound_for = self.outbound_for
        papote.chat.on_outbound = self.poke

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.http = self.media.http = httpx.AsyncClient(timeout=self.config.messaging_timeout_secs)
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="papote-messaging-outbox"))
        self._tasks.append(asyncio.create_task(self.media.outbox.run(), name="papote-messaging-media"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()

    def poke(self) -> None:
        self.outbox.poke()

    def base_url(self, kind: str) -> str:
        url = {"telegram": self.config.telegram_api_url, "twilio": self.config.twilio_api_url}.get(
            kind, self.config.meta_api_url)
        return url.rstrip("/")

    # -- accounts ------------------------------------------------------------------------------------
    @staticmethod
    def providers() -> list[dict[str, Any]]:
        return [{"kind": a.kind, "fields": [{"name": f.name, "label": f.label, "secret": f.secret,
                                            "required": f.required} for f in a.fields]}
                for a in ADAPTERS.values()]

    def view(self, account: ChannelAccount) -> dict[str, Any]:
        """An account as the site's admins see it: secrets only as hints, and where to point the provider."""
        return {"id": account.id, "kind": account.kind, "name": account.name, "config": account.config,
                "secrets": {k: hint(v) for k, v in account.secrets.items()},
                "webhook_url": self.webhook_url(account),
                "created_at": account.created_at}

    def webhook_url(self, account: ChannelAccount) -> str:
        return f"{self.config.base_url}/channels/{account.kind}/{account.id}"

    async def connect(self, site_id: str, kind: str, name: str, values: dict[str, Any]) -> ChannelAccount:
        adapter = ADAPTERS.get(kind)
        if adapter is None:
            raise PapoteError(f"unknown channel kind {kind!r}", ErrorCode.BAD_FIELD)
        known = {f.name for f in adapter.fields}
        for key in values:
            if key not in known:
                raise PapoteError(f"field 'settings.{key}' is not a setting of {kind}", ErrorCode.BAD_FIELD)
        config: dict[str, Any] = {}
        hidden: dict[str, str] = {}
        for f in adapter.fields:
            value = values.get(f.name)
            if value is None or value == "":
                if f.required:
                    raise PapoteError(f"field 'settings.{f.name}' is required", ErrorCode.BAD_FIELD)
                continue
            if not isinstance(value, str) or not re.fullmatch(f.pattern, value):
                raise PapoteError(f"field 'settings.{f.name}' is not valid", ErrorCode.BAD_FIELD)
            (hidden if f.secret else config)[f.name] = value
        account = ChannelAccount(new_id("ch"), site_id, kind, name, config, hidden, now_ms())
        await self.store.insert_channel_account(account)
        log.info("%s account %s connected to site %s", kind, account.id, site_id)
        return account

    async def disconnect(self, site_id: str, account_id: str) -> None:
        if not await self.store.delete_channel_account(site_id, account_id):
            raise NotFound("no such channel")

    # -- webhooks ------------------------------------------------------------------------------------
    async def webhook(self, kind: str, account_id: str, hook: Hook) -> Answer:
        """Answer a provider's request: handshake, or verify, store, and 2xx once committed."""
        account = await self.store.get_channel_account(account_id)
        adapter = ADAPTERS.get(kind)
        if account is None or adapter is None or account.kind != kind:
            return Answer(404, "not found")
        handshake = adapter.handshake(account, hook)
        if handshake is not None:
            return handshake
        if hook.method != "POST":
            return Answer(405, "method not allowed")
        try:
            adapter.verify(account, hook)
        except WebhookRefused as exc:
            log.warning("%s webhook for %s refused: %s", kind, account_id, exc.reason)
            return Answer(exc.status, exc.reason)
        try:
            events = adapter.parse(account, hook)
        except (ValueError, TypeError, AttributeError, KeyError):
            return Answer(400, "unreadable payload")
        for event in events:
            if isinstance(event, Inbound):
                await self.receive(account, event)
                if event.media:
                    self.media.outbox.poke()
                if event.data.get("callback_query"):
                    self._acknowledge(adapter, account, event)
            elif isinstance(event, Receipt):
                await self.receipt(account, event)
            elif isinstance(event, Watermark):
                await self.watermark(account, event)
        return getattr(adapter, "ok", Answer(200, "ok"))

    def _acknowledge(self, adapter: Adapter, account: ChannelAccount, inbound: Inbound) -> None:
        """Answer a tap the app waits on (Telegram's callback query), off the webhook's answer: it is
        stored already, and an acknowledgement that fails costs the customer a spinner, nothing more."""
        acknowledge = getattr(adapter, "acknowledge", None)
        if acknowledge is None or self.http is None:
            return
        task = asyncio.create_task(acknowledge(self.http, self.base_url(account.kind), account, inbound))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
            while len(self._locks) > MAX_LOCKS:
                oldest, held = next(iter(self._locks.items()))
                if held.locked():
                    break
                del self._locks[oldest]
        return lock

    async def receive(self, account: ChannelAccount, inbound: Inbound) -> None:
        """Store a customer's message (a re-delivery finds the first copy and stores nothing). Over the
        address's or the site's inbound budget (inbound_limits.py) it is held for review instead: the
        provider still gets its 2xx, nothing is lost, and a flood reaches no conversation, bot or agent."""
        over = self.papote.inbound_limits.hit(account.site_id, account.kind, inbound.address) is not None
        key = (account.id, inbound.address)
        identity = await self.store.channel_identity(*key)
        if identity is None or identity.conversation_id is None:
            async with self._lock(key):  # a newcomer: spares this node's own racing deliveries the work
                identity = await self.store.channel_identity(*key) or await self._newcomer(account, inbound)
                if over:
                    await self._hold(account, identity, inbound)
                    return
                if identity.conversation_id is None:
                    # The window opens before the message is stored: a reply committed right after it (the
                    # bot's) must find it open. Moving it first is safe: it only ever moves forward.
                    await self.store.touch_identity(account.id, inbound.address, inbound.at or now_ms())
                    # Every first message of this customer, on any node, names the same conversation: the
                    # store creates it once and the others join it (NewMessage.new_conversation_id).
                    cid = await self._store(account, identity, None, inbound,
                                            opens=first_conversation_id(identity.visitor_id))
                    if cid is not None:
                        await self.store.set_identity_conversation(account.id, inbound.address, cid)
                    return
        if over:
            await self._hold(account, identity, inbound)
            return
        await self.store.touch_identity(account.id, inbound.address, inbound.at or now_ms())
        await self._store(account, identity, identity.conversation_id, inbound)

    async def _hold(self, account: ChannelAccount, identity: ChannelIdentity, inbound: Inbound) -> None:
        """Keep a message over budget aside, as the spam filter does (moderation.py): the site's agents
        see it among the held messages, and release it (appended under its own client_msg_id, so a
        re-delivery already stored stays one message) or delete it. Held once per provider id."""
        body, data, client_msg_id = self._message(account, inbound)
        # Released, it is stored as it would have been now: its files fetched, and a first message opening
        # the conversation the customer's next messages join.
        opens = first_conversation_id(identity.visitor_id) if identity.conversation_id is None else None
        kept = keep_for_release(data, jobs_for(account, identity.visitor_id, inbound), opens)
        await self.store.hold_message(HeldMessage(
            new_id("h"), account.site_id, identity.conversation_id, identity.visitor_id, identity.name,
            client_msg_id, body, kept, [FLOOD], now_ms()))
        log.warning("%s message %s from %s on %s over the inbound budget: held for review", account.kind,
                    inbound.provider_id, inbound.address, account.id)

    def _message(self, account: ChannelAccount, inbound: Inbound) -> tuple[str, dict[str, Any], str]:
        """The body, data and client_msg_id a customer's message is stored (or held) with."""
        # A file without a caption is a message without text: its attachment follows once fetched.
        body = inbound.body.strip() or ("" if inbound.media else "…")
        limit = self.config.max_body_chars
        if len(body) > limit:
            body = body[:limit - 1] + "…"
        data: dict[str, Any] = {"channel": {"kind": account.kind, "id": inbound.provider_id, **inbound.data}}
        if inbound.media:  # what the agent sees until the files arrive (their kinds, in order)
            data["channel"]["media"] = [m.kind for m in inbound.media]
        return body, data, f"{account.kind}:{inbound.provider_id}"[:200]

    async def _newcomer(self, account: ChannelAccount, inbound: Inbound) -> ChannelIdentity:
        # The visitor has no token anyone holds: a customer on a channel is reached through the channel.
        # It is written with the identity, and only if the identity is new: a node that lost the race for
        # this address gets the winner's identity and visitor, and leaves no visitor of its own behind.
        name = (inbound.name or inbound.address)[:200]
        now = now_ms()
        visitor = Visitor(new_id("v"), account.site_id, None, name, "", False, {}, {}, [],
                          {"channel": account.kind, "account": account.id}, now, now)
        return await self.store.add_channel_identity(
            ChannelIdentity(account.id, inbound.address, account.site_id, visitor.id, None, name, 0, now),
            (visitor, "channel-" + secrets.token_hex(32)))

    async def _store(self, account: ChannelAccount, identity: ChannelIdentity, cid: str | None,
                     inbound: Inbound, *, opens: str | None = None) -> str | None:
        chat = self.papote.chat
        principal = Principal(PrincipalKind.VISITOR, identity.visitor_id, identity.name, site_id=account.site_id)
        body, data, client_msg_id = self._message(account, inbound)
        try:
            stored = await chat.submit(principal, cid, client_msg_id, body, data=data,
                                       jobs=jobs_for(account, identity.visitor_id, inbound), opens=opens)
            _, appended = await chat.complete(principal, stored)
        except Conflict:
            log.info("%s message %s re-delivered with another body or its files since kept: the first copy "
                     "stands", account.kind,
                     inbound.provider_id)
            return cid
        except Held:
            return cid  # kept aside by the site's spam filter (moderation.py): answered, not stored
        except Blocked:
            log.info("%s message %s from a customer blocked on the site: dropped", account.kind, inbound.provider_id)
            return cid
        return appended.conversation.id

    async def receipt(self, account: ChannelAccount, receipt: Receipt) -> None:
        state = await self.store.record_receipt(account.id, receipt.provider_id, receipt.state, receipt.error,
                                                receipt.at or now_ms())
        if state is not None:
            self.papote.bus.publish(conv_topic(state.conversation_id), DeliveryChanged(
                state.conversation_id, state.seq, state.channel, state.state, state.error))

    async def watermark(self, account: ChannelAccount, mark: Watermark) -> None:
        identity = await self.store.channel_identity(account.id, mark.address)
        if identity is None or identity.conversation_id is None:
            return
        for state in await self.store.record_watermark(account.id, identity.conversation_id, mark.state, mark.at):
            self.papote.bus.publish(conv_topic(state.conversation_id), DeliveryChanged(
                state.conversation_id, state.seq, state.channel, state.state, state.error))

    # -- replies -------------------------------------------------------------------------------------
    async def _thread(self, conversation_id: str) -> tuple[ChannelAccount, ChannelIdentity] | None:
        if conversation_id in self._web:
            return None
        identity = await self.store.identity_of_conversation(conversation_id)
        if identity is None:
            conv = await self.store.get_conversation(conversation_id)
            visitor = await self.store.get_visitor(conv.visitor_id) if conv is not None else None
            if visitor is not None and not visitor.device.get("channel"):
                # A web visitor's conversation (a customer on a channel is marked from their first message).
                self._web[conversation_id] = None
                if len(self._web) > MAX_WEB_CONVERSATIONS:
                    self._web.popitem(last=False)
            return None
        account = await self.store.get_channel_account(identity.account_id)
        return (account, identity) if account is not None else None

    async def outbound_for(self, site_id: str, conversation_id: str, body: str,
                           files: list[Attachment], options: Sequence[Mapping[str, Any]] = ()) -> list[Delivery]:
        """The deliveries an agent's or the bot's reply must be stored with (its text, then each file: one
        each, so a file's retry never sends the text again); `window_closed` when it cannot go.
        `options`: the bot's quick replies, drawn on the text as the app's own buttons where it can."""
        thread = await self._thread(conversation_id)
        if thread is None:
            return []
        account, identity = thread
        if not body.strip() and not files:
            raise PapoteError(f"a reply on {account.kind} needs text or files", ErrorCode.BAD_FIELD)
        adapter = ADAPTERS[account.kind]
        now = now_ms()
        window = adapter.window(account, identity, now)
        if not window.can_send:
            raise PapoteError(window.reason or "this channel cannot carry a reply now", ErrorCode.WINDOW_CLOSED)
        if files and not window.open and window.fallback not in FILE_FALLBACKS:
            raise PapoteError("Files can go only while the customer's 24-hour window is open: the template "
                              "that answers after it carries text only.", ErrorCode.WINDOW_CLOSED)
        url = self.webhook_url(account)
        payloads = [adapter.payload(account, identity, body, window, url, buttons_of(options))] if body.strip() else []
        payloads += [{**adapter.payload(account, identity, "", window, url),
                      "file": {"id": f.id, "name": f.name, "content_type": f.content_type, "kind": f.kind}}
                     for f in files]
        return [Delivery(new_id("d"), site_id, conversation_id, identity.visitor_id, CHANNEL, account.kind,
                         identity.address, payload, next_attempt_at=now, created_at=now + i, account_id=account.id)
                for i, payload in enumerate(payloads)]

    async def channel_view(self, principal: Principal, conversation_id: str) -> dict[str, Any]:
        """What the composer needs before the agent writes: the channel, whether a reply can go now and
        why not, the customer's verified email to offer instead, and where each reply stands."""
        conv = await self.papote.chat.conversation_for(principal, conversation_id, Action.READ)
        thread = await self._thread(conv.id)
        visitor = await self.store.get_visitor(conv.visitor_id)
        email = visitor.email if visitor is not None and visitor.verified and visitor.email else None
        if thread is None:
            return {"channel": "web", "account": None, "address": None, "window": None, "can_send": True,
                    "reason": None, "email": email, "deliveries": {}}
        account, identity = thread
        window = ADAPTERS[account.kind].window(account, identity, now_ms())
        deliveries = await self.store.message_deliveries(conv.id)
        return {
            "channel": account.kind, "account": {"id": account.id, "name": account.name},
            "address": identity.address,
            "window": {"open": window.open, "closes_at": window.closes_at, "fallback": window.fallback},
            "can_send": window.can_send, "reason": None if window.can_send else window.reason, "email": email,
            "deliveries": {str(seq): {"state": d.state, "error": d.error} for seq, d in deliveries.items()},
        }

    # -- sending -------------------------------------------------------------------------------------
    async def _send(self, delivery: Delivery) -> str:
        account = await self.store.get_channel_account(delivery.account_id or "")
        if account is None:
            raise DeliveryError("the channel account was disconnected", permanent=True)
        assert self.http is not None, "started"
        adapter = ADAPTERS[account.kind]
        if "file" not in delivery.payload:
            return await adapter.send(self.http, self.base_url(account.kind), account, delivery)
        attachment = await self.store.get_attachment(str(delivery.payload["file"]["id"]))
        site = await self.papote.site_by_id(delivery.site_id)
        if attachment is None or site is None:
            raise DeliveryError("the file was deleted", permanent=True)
        data, _ = await self.papote.attachments.read(attachment, thumbnail=False)
        # A provider that fetches by URL (Twilio) gets a signed link that lives an hour from this attempt.
        link = file_link(self.config.base_url, site.secrets[0], attachment.id, now_ms() + PROVIDER_TTL_MS)
        return await adapter.send_file(self.http, self.base_url(account.kind), account, delivery,
                                       OutboundFile(attachment.name, attachment.content_type, data, link))

    async def _done(self, delivery: Delivery) -> None:
        if delivery.seq is None or delivery.conversation_id is None:
            return
        state = await self.store.delivery_state(delivery.id)
        if state is not None:
            self.papote.bus.publish(conv_topic(delivery.conversation_id), DeliveryChanged(
                delivery.conversation_id, state.seq, state.channel, state.state, state.error))
