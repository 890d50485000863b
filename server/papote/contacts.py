"""Contacts: one customer across channels (docs/channels.md, "One customer across channels").

A contact is a visitor: whoever writes, from the widget, by mail or from a messaging app, is one visitor
of the site, and every channel they write from is an identity of theirs (a browser's token, an email
address, a phone number on the site's WhatsApp, a Telegram chat…). This module is what agents do with
contacts:

* `timeline` — a contact's identities on every channel and all their conversations, each with its
  channel, status and last message, most recent activity first.
* `search` — the site's contacts by name, email, user id or a channel address (to find the duplicate).
* `merge` — an agent's explicit act: two contacts of one site are one person. Everything of the one
  merged away moves to the one kept (store `merge_visitor`: every visitor-keyed row), the kept one's
  blanks are filled from the other, the audit log says who did it, every node drops what it cached of
  the merged-away visitor, and that visitor's widget sockets reconnect as the kept one.

What merges and what never does. A merge is an agent's act, or a proof: a visitor's verified identify
(visitors.py: the site's HMAC or JWT over its user id) joins the anonymous visitor to the person's
history. Nothing a visitor merely says merges anything: an email typed in the pre-chat or away form, a
name, an email address a mail was sent from (anyone can write any From). Two visitors the site verified
as different users are two people: no agent can merge them (`verified_different`).
"""

from __future__ import annotations

from typing import Any, Protocol

from papote.authz import Action, Principal, authorize
from papote.bus import Bus
from papote.bus.topics import visitor_topic
from papote.conversations import Chat
from papote.errors import ErrorCode, NotFound, PapoteError
from papote.events import VisitorMerged
from papote.frames import visitor_summary
from papote.moderation import Moderation
from papote.privacy import AuditAction, Privacy
from papote.store import ConversationQuery, Store, Visitor, VisitorChanges
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.types import Frame

#: A contact's conversations shown on their timeline: a year of weekly chats; older ones stay searchable.
TIMELINE_CONVERSATIONS = 100
#: Contacts a search answers: a person types more letters rather than scroll further.
SEARCH_LIMIT = 20
#: Custom attributes a contact may hold (visitors.py's limit, kept through a merge).
MAX_ATTRIBUTES = 100
#: The channel of a conversation nobody wrote to from an app or by mail: the website's widget.
WEB = "web"
EMAIL = "email"


class Host(Protocol):
    store: Store
    chat: Chat
    bus: Bus
    privacy: Privacy
    moderation: Moderation

    async def publish_visitor(self, visitor: Visitor, event: dict[str, Any] | None = None) -> None: ...


class Contacts:
    """One per node."""

    def __init__(self, papote: Host) -> None:
        self.papote = papote
        self.store = papote.store

    async def _visible(self, principal: Principal, visitor_id: str, action: Action) -> Visitor:
        """The visitor, if `principal` may do `action` on their site; else the same `NotFound` as a
        visitor that does not exist (another site's contact is never told apart from none)."""
        visitor = await self.store.get_visitor(visitor_id)
        if visitor is None:
            raise NotFound("no such visitor")
        try:
            authorize(principal, action, visitor.site_id)
        except NotFound:
            raise NotFound("no such visitor") from None
        return visitor

    # -- the timeline --------------------------------------------------------------------------------
    async def timeline(self, principal: Principal, visitor_id: str) -> Frame:
        visitor = await self._visible(principal, visitor_id, Action.READ)
        convs = await self.store.list_conversations(ConversationQuery(
            site_ids=[visitor.site_id], visitor_id=visitor.id, limit=TIMELINE_CONVERSATIONS))
        identities = await self.store.visitor_identities(visitor.id)
        accounts = {a.id: a for a in await self.store.channel_accounts(visitor.site_id)}
        threads = await self.store.email_threads([c.id for c in convs])
        by_conversation = {i.conversation_id: i for i in identities if i.conversation_id}
        summaries = await self.papote.chat.summaries(convs, principal)
        for summary in summaries:
            cid = summary["id"]
            identity = by_conversation.get(cid)
            if identity is not None and identity.account_id in accounts:
                summary["channel"] = _channel(accounts[identity.account_id], identity)
            elif cid in threads:
                summary["channel"] = {"kind": EMAIL, "address": threads[cid].address, "account": None}
            else:
                summary["channel"] = {"kind": WEB, "address": None, "account": None}
        summaries.sort(key=lambda s: (s["updated_at"], s["id"]), reverse=True)
        return {"visitor": visitor_summary(visitor, full=True),
                "identities": self._identities(visitor, identities, accounts, summaries),
                "conversations": summaries}

    @staticmethod
    def _identities(visitor: Visitor, identities: list[ChannelIdentity], accounts: dict[str, ChannelAccount],
                    summaries: list[Frame]) -> list[Frame]:
        """Every channel the contact is known on: the web (a browser's widget; `verified` when the site
        identified them), each email address, each messaging app's address."""
        out: list[Frame] = []
        kinds = {s["channel"]["kind"] for s in summaries}
        if WEB in kinds or visitor.verified or not visitor.device.get("channel"):
            out.append({"kind": WEB, "address": visitor.user_id or None, "name": visitor.name,
                        "verified": visitor.verified, "account": None})
        emails = [visitor.email.lower()] if visitor.email else []
        emails += [s["channel"]["address"].lower() for s in summaries if s["channel"]["kind"] == EMAIL]
        for email in dict.fromkeys(emails):
            out.append({"kind": EMAIL, "address": email, "name": visitor.name,
                        # The address is the site's word only when it came with a verified identify.
                        "verified": visitor.verified and email == visitor.email.lower(), "account": None})
        for identity in identities:
            account = accounts.get(identity.account_id)
            if account is not None:
                out.append({**_channel(account, identity), "name": identity.name,
                            # The provider vouches for the sender's address on its own network.
                            "verified": True, "conversation": identity.conversation_id,
                            "last_inbound_at": identity.last_inbound_at or None, "since": identity.created_at})
        return out

    # -- finding a contact ---------------------------------------------------------------------------
    async def search(self, principal: Principal, site_id: str, text: str) -> list[Frame]:
        """The site's contacts matching `text`, each with the identities they are known by."""
        authorize(principal, Action.READ, site_id)
        ids = await self.store.find_contacts(site_id, text.strip(), SEARCH_LIMIT)
        found = await self.store.get_visitors(ids)
        accounts = {a.id: a for a in await self.store.channel_accounts(site_id)}
        out = []
        for vid in ids:
            visitor = found.get(vid)
            if visitor is None:
                continue  # merged or erased between the two reads
            card = visitor_summary(visitor)
            card.update(user_id=visitor.user_id, last_seen=visitor.last_seen, created_at=visitor.created_at)
            card["identities"] = [_channel(accounts[i.account_id], i)
                                  for i in await self.store.visitor_identities(vid) if i.account_id in accounts]
            out.append(card)
        return out

    # -- merging -------------------------------------------------------------------------------------
    async def merge(self, principal: Principal, into_id: str, from_id: str) -> Frame:
        """Merge contact `from_id` into `into_id` (both of one site the agent handles). The verified one
        is kept whichever way the agent asked (a site's signed identity is never merged away); two
        verified as different users are refused. Answers the kept contact's timeline and who was merged."""
        keep = await self._visible(principal, into_id, Action.HANDLE)  # before anything is said about it
        if into_id == from_id:
            raise PapoteError("a contact cannot be merged into itself", ErrorCode.BAD_FIELD)
        gone = await self.store.get_visitor(from_id)
        if gone is None or gone.site_id != keep.site_id:
            raise NotFound("no such visitor")
        if keep.verified and gone.verified:
            raise PapoteError("both contacts were verified by the site as different users: they are two people",
                              ErrorCode.VERIFIED_DIFFERENT)
        if gone.verified:
            keep, gone = gone, keep
        moved = await self.store.list_conversations(ConversationQuery(
            site_ids=[gone.site_id], visitor_id=gone.id, limit=TIMELINE_CONVERSATIONS))
        await self.store.merge_visitor(gone.id, keep.id)
        changes = filled(keep, gone)
        if changes != VisitorChanges():
            keep = await self.store.update_visitor(keep.id, changes)
        papote = self.papote
        # Every node: cached conversation refs of the merged-away visitor go, and their widgets reconnect
        # (their token opens the kept visitor now, who has all their conversations).
        papote.chat.forget_visitor(gone.id)
        papote.moderation.blocks_changed(keep.site_id)  # a block of the merged-away visitor is the kept one's now
        papote.bus.publish(visitor_topic(gone.id), VisitorMerged(gone.id, keep.id, keep.site_id))
        await papote.publish_visitor(keep)
        for conv in moved:  # the inbox shows them under the kept contact, whose widgets see them too
            fresh = await self.store.get_conversation(conv.id)
            if fresh is not None:
                await papote.chat.publish_conversation(fresh)
        # Ids only: the audit log copies no personal data (docs/privacy.md).
        await papote.privacy.record(keep.site_id, principal, AuditAction.VISITORS_MERGED, keep.id,
                                    {"merged": gone.id})
        return {"kept": keep.id, "merged": gone.id, **await self.timeline(principal, keep.id)}


def filled(keep: Visitor, gone: Visitor) -> VisitorChanges:
    """What the kept contact takes from the merged-away one: its blanks filled (a name, an email — never
    over a verified contact's, which are the site's word), and the custom attributes it lacks."""
    changes = VisitorChanges()
    if not keep.verified:
        if not keep.name and gone.name:
            changes.name = gone.name
        if not keep.email and gone.email:
            changes.email = gone.email
    missing = {k: v for k, v in gone.attributes.items() if k not in keep.attributes}
    room = MAX_ATTRIBUTES - len(keep.attributes)
    if missing and room > 0:
        changes.attributes = {**dict(list(missing.items())[:room]), **keep.attributes}
    return changes


def _channel(account: ChannelAccount, identity: ChannelIdentity) -> Frame:
    return {"kind": account.kind, "address": identity.address, "account": {"id": account.id, "name": account.name}}
