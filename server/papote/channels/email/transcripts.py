"""Transcripts by mail: a visitor asks for their conversation's transcript from the widget (the
`transcript` frame), and a site can send it at every close (`email_transcript_on_close`).

A transcript goes only to an address the visitor is known to hold: the email the site signed for an
identified visitor, an address confirmed through continuation's link (`email_addresses` state
`confirmed`), or the address a conversation by mail came from (support.py) — never an address merely
typed, so nobody can have a conversation mailed to a stranger. An address bouncing gets nothing; an
unsubscribed one still gets a transcript the visitor asks for, not the automatic one.

Asked for: checked (the conversation is the visitor's: `not_found` otherwise, like any frame), limited
(`TRANSCRIPTS_PER_VISITOR`), and queued in the outbox before the `ok`.

At close: when the site sends transcripts at close, the closing queues a decision with its `closed`
event, in that append's own transaction (`at_close`, a delivery of the outbox channel `transcript`):
a closing acknowledged is a decision that cannot be lost. Any node's worker of that channel takes it
(a lease: a node dying while deciding leaves it to another once the lease ends) and queues the mail,
under an id derived from the decision's, so that deciding twice still queues one mail.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from limits import parse

from papote.authz import Action, Principal
from papote.channels.email import notices, render, tokens
from papote.channels.email.host import Host
from papote.channels.outbox import Outbox
from papote.errors import Conflict, RateLimited
from papote.events import Event, MessageAppended
from papote.ids import new_id, now_ms
from papote.sites import settings_of
from papote.store import Conversation, Message, Visitor
from papote.store.outbox import AddressState, Delivery
from papote.types import MessageKind

log = logging.getLogger("papote.email")

#: Transcripts a visitor may ask for: a few (another device, a lost mail), not a way to mail-bomb.
TRANSCRIPTS_PER_VISITOR = parse("3/hour")
#: Messages read per round when gathering a transcript.
BATCH = 500
#: A transcript holds at most this many messages (the newest): a mail, not an archive.
MAX_MESSAGES = 2000
#: The outbox channel of the decisions a closing queues (`at_close`); their `kind`:
DECISIONS = "transcript"
AT_CLOSE = "at_close"
DECISION_LEASE_MS = 10_000


class Transcripts:
    def __init__(self, papote: Host, poke: Callable[[], None]) -> None:
        self.papote = papote
        self.store = papote.store
        self.config = papote.config
        self._poke = poke
        #: The worker of the decisions closings queue (started with the email outbox, service.py). A
        #: decision is a few reads and one write: its lease is short, and a lost node's are soon retried.
        self.decisions = Outbox(self.store, DECISIONS, self._decide, lease_ms=DECISION_LEASE_MS,
                                every_secs=self.config.email_check_secs)

    async def address_of(self, conv: Conversation, visitor: Visitor, *, asked: bool) -> str | None:
        """Where this conversation's transcript may go, or None."""
        thread = await self.store.email_thread(conv.id)
        if thread is not None:
            address = thread.address
        elif visitor.verified and visitor.email:
            address = visitor.email.strip().casefold()
        else:
            address = (conv.contact_email or visitor.email).strip().casefold()
            if not address:
                return None
        standing = await self.store.email_address(conv.site_id, address)
        state = standing.state if standing else None
        known = thread is not None or (visitor.verified and bool(visitor.email)) or state is AddressState.CONFIRMED
        if not known or state is AddressState.BOUNCING or (state is AddressState.UNSUBSCRIBED and not asked):
            return None
        return address

    async def request(self, principal: Principal, conversation_id: str) -> str:
        """The visitor asks for the transcript; returns the address it goes to. `not_found` for a
        conversation not theirs, `conflict` without a known address (or mail), `rate_limited`."""
        conv = await self.papote.chat.conversation_for(principal, conversation_id, Action.READ)
        if not self.config.email_enabled:
            raise Conflict("this server sends no email")
        visitor = await self.store.get_visitor(conv.visitor_id)
        address = await self.address_of(conv, visitor, asked=True) if visitor else None
        if address is None:
            raise Conflict("no confirmed email address to send the transcript to")
        if not self.papote.budgets.hit(TRANSCRIPTS_PER_VISITOR, "transcript", principal.id):
            raise RateLimited("too many transcripts asked for; try again later")
        await self._queue(conv, visitor, address)
        return address

    async def _queue(self, conv: Conversation, visitor: Visitor | None, address: str,
                     delivery_id: str | None = None) -> None:
        site = await self.papote.site_by_id(conv.site_id)
        if site is None:
            return
        messages = await self._messages(conv.id)
        lang = render.language(visitor.device.get("locale") if visitor else None, settings_of(site).get("locale"))
        domain = self.config.reply_domain or "papote"
        payload = notices.transcript(lang, site=site.name, messages=messages,
                                     message_id=f"<papote.transcript.{secrets.token_hex(8)}@{domain}>")
        # Answering the transcript continues the conversation, as answering a digest does.
        payload["reply_to"] = tokens.reply_address(site.secrets[0], conv.id, domain)
        now = now_ms()
        await self.store.queue_delivery(Delivery(delivery_id or new_id("d"), site.id, conv.id, conv.visitor_id, "email",
                                                 "transcript", address, payload, next_attempt_at=now,
                                                 created_at=now))
        self._poke()
        log.info("transcript of %s queued (%d messages)", conv.id, len(messages))

    async def _messages(self, cid: str) -> list[Message]:
        out: list[Message] = []
        after = 0
        while True:
            batch = await self.store.messages_after(cid, after, BATCH, include_notes=False)
            if not batch:
                break
            after = batch[-1].seq
            out.extend(m for m in batch if m.kind is MessageKind.TEXT)
            if len(out) > 2 * MAX_MESSAGES:  # bounded memory on a conversation of many thousands
                out = out[-MAX_MESSAGES:]
            if len(batch) < BATCH:
                break
        return out[-MAX_MESSAGES:]

    # -- at close --------------------------------------------------------------------------------------
    async def at_close(self, conv: Conversation) -> list[Delivery]:
        """What a closing queues with its `closed` event: the decision to send the transcript, when the
        site wants one at every close (the address is looked for when deciding)."""
        if not self.config.email_enabled:
            return []
        site = await self.papote.site_by_id(conv.site_id)
        if site is None or not settings_of(site)["email_transcript_on_close"]:
            return []
        now = now_ms()
        return [Delivery(new_id("d"), conv.site_id, conv.id, conv.visitor_id, DECISIONS, AT_CLOSE, "", {},
                         next_attempt_at=now, created_at=now)]

    def observe(self, topic: str, event: Event) -> None:
        """Called by the bus for every event this node publishes: a closing committed here has a decision
        waiting, which this node's worker takes at once (any other's would, a round later)."""
        if not self.config.email_enabled or not isinstance(event, MessageAppended):
            return
        message = event.message
        if message.kind is MessageKind.EVENT and message.event == "closed":
            self.decisions.poke()

    async def _decide(self, decision: Delivery) -> None:
        """Queue the transcript a closing decided on, to an address the visitor is known to hold (none:
        nothing is sent, and the decision is done). The mail's id is derived from the decision's: a
        decision taken again (its node died before recording it done) finds its mail queued already."""
        if decision.conversation_id is None:
            return
        mail_id = f"{decision.id}.mail"
        if any(d.id == mail_id for d in await self.store.deliveries(decision.conversation_id)):
            return
        conv = await self.store.get_conversation(decision.conversation_id)
        visitor = await self.store.get_visitor(conv.visitor_id) if conv is not None else None
        if conv is None or visitor is None:
            return
        address = await self.address_of(conv, visitor, asked=False)
        if address is not None:
            await self._queue(conv, visitor, address, delivery_id=mail_id)
