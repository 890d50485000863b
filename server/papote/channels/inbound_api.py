"""The inbound API channel: a site's own systems post a customer's message into Papote.

A custom integration (a form, an app, a channel Papote has no adapter for) calls
`POST /api/sites/{key}/inbound/messages` with the site's API key. The customer is named by the
integration's own id for them (`contact.external_id`), which is the visitor's `user_id` on the site: the
API key is the site's word, as a signed identity from the widget is, so the same person later signed
in on the widget sees these conversations too. The message goes through `Chat.send` as that visitor,
exactly like a widget send: deduplicated on `(visitor, client_msg_id)` (a retry gets the first answer,
another body under the same id is `conflict`), acknowledged only after COMMIT, and landing as the
conversation's next seq (a closed conversation reopens, as when a visitor writes again).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from papote.authz import Principal
from papote.conversations import Chat
from papote.errors import RateLimited
from papote.ids import digest, new_secret
from papote.inbound_limits import InboundLimits
from papote.store import ConversationQuery, Site, Store, Visitor, VisitorChanges
from papote.types import PrincipalKind

log = logging.getLogger("papote.inbound")


class Host(Protocol):
    store: Store
    chat: Chat
    inbound_limits: InboundLimits


class InboundApi:
    def __init__(self, papote: Host) -> None:
        self.store = papote.store
        self.chat = papote.chat
        self.limits = papote.inbound_limits
        #: One contact is created at a time per (site, external id) on this node; across nodes the
        #: unique (site, user_id) index settles it (`_contact` reads the winner back).
        self._creating: dict[tuple[str, str], asyncio.Lock] = {}

    async def post(self, site: Site, *, external_id: str, name: str | None, email: str | None,
                   client_msg_id: str, body: str, conversation: str | None,
                   new_conversation: bool) -> dict[str, Any]:
        """Store the customer's message; the answer (`client_msg_id, conversation, seq, ts, visitor,
        duplicate`) once it is committed. `rate_limited` (with the seconds to wait) over the contact's
        or the site's budget: nothing is stored, the caller sends it again later."""
        retry = self.limits.hit(site.id, "api", external_id)
        if retry is not None:
            raise RateLimited(f"too many messages for this contact or site; retry in {retry} s", retry)
        visitor = await self._contact(site, external_id, name, email)
        principal = Principal(PrincipalKind.VISITOR, visitor.id, visitor.name, site_id=site.id)
        cid = conversation
        if cid is None and not new_conversation:
            # The customer's latest conversation (a closed one reopens), else a new one.
            latest = await self.store.list_conversations(
                ConversationQuery(site_ids=[site.id], visitor_id=visitor.id, limit=1))
            cid = latest[0].id if latest else None
        ack, appended = await self.chat.send(principal, cid, client_msg_id, body)
        return {"client_msg_id": ack["client_msg_id"], "conversation": ack["conversation"], "seq": ack["seq"],
                "ts": ack["ts"], "visitor": visitor.id, "duplicate": appended.duplicate}

    async def _contact(self, site: Site, external_id: str, name: str | None, email: str | None) -> Visitor:
        key = (site.id, external_id)
        lock = self._creating.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                visitor = await self.store.get_visitor_by_user(site.id, external_id)
                if visitor is None:
                    visitor = await self._create(site, external_id)
        finally:
            if not lock.locked() and self._creating.get(key) is lock:
                del self._creating[key]
        changes = VisitorChanges()
        if name is not None and name != visitor.name:
            changes.name = name
        if email is not None and email != visitor.email:
            changes.email = email
        if changes != VisitorChanges():
            visitor = await self.store.update_visitor(visitor.id, changes)
        return visitor

    async def _create(self, site: Site, external_id: str) -> Visitor:
        # The visitor needs a token to exist; this one is never handed out, so no browser holds it.
        fresh = await self.store.create_visitor(site.id, digest(new_secret("unused")))
        try:
            return await self.store.update_visitor(fresh.id, VisitorChanges(user_id=external_id, verified=True))
        except Exception:
            # Another node created the same contact at the same moment: the unique index kept one.
            winner = await self.store.get_visitor_by_user(site.id, external_id)
            if winner is None:
                raise
            log.info("contact %s of site %s was created concurrently; using %s", external_id, site.id, winner.id)
            return winner
