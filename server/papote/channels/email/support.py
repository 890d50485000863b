"""Email as a channel of its own: mail to a site's support address (`email_support_address`) starts a
conversation in the inbox, or continues one when it answers our thread.

    mail to support@shop.example ─► which site (its setting) ─► the contact: one visitor per (site, sender)
        │                                                        (found again by a token digest made of both)
        ├─ In-Reply-To / References name one of our Message-IDs (`<papote.<conversation code>…>`) of a
        │  conversation of this site whose thread is with this very sender ─► the same conversation
        ├─ the contact has no conversation yet ─► their first one, whose id is derived from the contact:
        │  their first mails arriving at once on several nodes all land in it (the store creates it once)
        └─ otherwise ─► a new conversation; its first message is the subject and the text

The message is stored by the same `Chat.submit` as a widget send, as that contact, with a client_msg_id
made from the Message-ID: the same mail delivered three times (SMTP retries, a webhook re-delivered) is
one message. Auto-replies and bounces never become messages. The thread (`email_threads`: the sender's
address and the subject) tells the continuation scan (service.py) to answer agents' replies by mail at
once, as `Re: <subject>`, threaded under the customer's mail.

The sender's address is not verified (anyone can write any From): the contact is unverified, it is never
merged with a visitor the site identified, and agents' replies go to that address — to its real owner,
whoever wrote.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import Any

from papote.authz import Principal
from papote.channels.email import tokens
from papote.channels.email.host import Host
from papote.channels.email.inbound import InboundMail
from papote.channels.email.mail_files import keep_files, note_refused
from papote.errors import Conflict, PapoteError
from papote.ids import first_conversation_id, new_id, now_ms
from papote.sites import settings_of
from papote.store import Site, Visitor
from papote.store.mail import EmailThread
from papote.store.outbox import AddressState
from papote.types import PrincipalKind

log = logging.getLogger("papote.email")

#: Sites are looked up by support address on every RCPT: a copy of the map lives this long, and is
#: dropped at once when a site changes (`forget`, on every node through the cluster's invalidation).
ADDRESSES_TTL_SECS = 10.0
#: A subject longer than this is cut (a header may be long; the first line of a message need not be).
MAX_SUBJECT = 200
_OUR_ID = re.compile(r"<papote\.([a-z2-7]{26})[.@]")


def contact_token_hash(site_id: str, address: str) -> str:
    """The digest a mail contact is found by: no visitor token can hash to it (theirs are random)."""
    return hashlib.sha256(f"papote-email-contact\x00{site_id}\x00{address}".encode()).hexdigest()


def client_msg_id(message_id: str, raw: bytes) -> str:
    """The dedupe key of an inbound mail: its Message-ID (or, without one, its bytes), hashed to a fixed
    length so any header fits the column."""
    source = message_id.encode() if message_id else raw
    return "email-" + hashlib.sha256(source).hexdigest()[:40]


def conversations_named(references: list[str]) -> list[str]:
    """The conversation ids our own Message-IDs in `references` name, newest reference first."""
    out = []
    for ref in reversed(references):
        m = _OUR_ID.match(ref)
        cid = tokens.conversation_of_code(m.group(1)) if m else None
        if cid and cid not in out:
            out.append(cid)
    return out


class SupportInbox:
    def __init__(self, papote: Host) -> None:
        self.papote = papote
        self.store = papote.store
        self._addresses: dict[str, str] = {}
        self._read_at = -ADDRESSES_TTL_SECS

    def forget(self) -> None:
        self._read_at = -ADDRESSES_TTL_SECS

    async def site_for(self, address: str) -> Site | None:
        """The site whose support address this is, or None."""
        address = address.strip().strip("<>").casefold()
        if time.monotonic() - self._read_at > ADDRESSES_TTL_SECS:
            sites = await self.store.list_sites()
            self._addresses = {str(settings_of(s)["email_support_address"]): s.id for s in sites
                               if settings_of(s)["email_support_address"]}
            self._read_at = time.monotonic()
        site_id = self._addresses.get(address)
        return await self.papote.site_by_id(site_id) if site_id else None

    async def contact(self, site: Site, mail: InboundMail) -> tuple[Visitor, bool]:
        """The sender's contact, and whether this mail found none: one of their first mails (its insert
        won, or lost to another first mail made at the same time on another node or connection)."""
        token_hash = contact_token_hash(site.id, mail.sender)
        visitor = await self.store.get_visitor_by_token(site.id, token_hash)
        if visitor is not None:
            return visitor, False
        # Inserted only if no node made this contact meanwhile (the store arbitrates on the token).
        now = now_ms()
        visitor, _ = await self.store.insert_visitor_once(Visitor(
            new_id("v"), site.id, None, (mail.sender_name or mail.sender.split("@")[0])[:200], mail.sender,
            False, {}, {}, [], {"channel": "email"}, now, now), token_hash)
        return visitor, True

    async def _thread_of(self, site: Site, visitor: Visitor, mail: InboundMail) -> str | None:
        """The conversation this mail answers: one of ours it names, of this site, with this sender."""
        for cid in conversations_named(mail.references):
            conv = await self.store.get_conversation(cid)
            if conv is not None and conv.site_id == site.id and conv.visitor_id == visitor.id:
                return cid
        return None

    async def receive(self, site: Site, mail: InboundMail, raw: bytes) -> str:
        """Store a mail to the support address; the SMTP answer to give (webhooks map it to HTTP)."""
        if not mail.sender or "@" not in mail.sender:
            return "250 OK: no sender to answer, dropped"
        standing = await self.store.email_address(site.id, mail.sender)
        visitor, first_mail = await self.contact(site, mail)
        cid = await self._thread_of(site, visitor, mail)
        subject = mail.subject.strip()[:MAX_SUBJECT]
        body = (mail.text or mail.full_text).strip()
        if cid is None and subject:
            body = f"{subject}\n\n{body}".strip()
        if not body and not mail.files:
            return "250 OK: nothing to store"
        limit = self.papote.config.max_body_chars
        if len(body) > limit:
            body = body[:limit - 1] + "…"
        data: dict[str, Any] = {"email": {"message_id": mail.message_id, "from": mail.sender, "subject": subject,
                                          "channel": "support"}}
        principal = Principal(PrincipalKind.VISITOR, visitor.id, visitor.name, site_id=site.id)
        msg_id = client_msg_id(mail.message_id, raw)
        if mail.files and await self.store.message_by_client_id(visitor.id, msg_id) is not None:
            return "250 OK: already stored"  # a retry of the sending server: its files are not kept twice
        opens = None
        if cid is None:
            # A contact's first conversation has an id derived from them: their first mails — those that
            # found no contact, arriving at once on several nodes — all open it, and the store creates it
            # once (the others join it, even when it was committed before they looked). A later mail opens
            # a conversation of its own, unless the first is not there (any more).
            first = first_conversation_id(visitor.id)
            if first_mail or await self.store.get_conversation(first) is None:
                opens = first
        kept = await keep_files(self.papote, principal, site, mail)
        try:
            stored = await self.papote.chat.submit(principal, cid, msg_id, body, data=data,
                                                   attachments=kept.ids or None, opens=opens)
            _, appended = await self.papote.chat.complete(principal, stored)
            await note_refused(self.papote, appended, kept)
        except Conflict:
            return "250 OK: already stored"
        except PapoteError as exc:
            log.warning("mail to the support address of %s refused: %s", site.id, exc.message)
            return "550 5.7.1 This mail cannot be stored"
        conv_id = appended.message.conversation_id
        await self.store.save_email_thread(EmailThread(conv_id, site.id, mail.sender, subject, now_ms()))
        if standing is not None and standing.state is AddressState.BOUNCING:
            # They wrote: the address works again (a bounce long ago must not silence the answer).
            await self.store.set_email_state(site.id, mail.sender, AddressState.CONFIRMED)
        log.info("support mail stored in %s as seq %d%s", conv_id, appended.message.seq,
                 " (duplicate)" if appended.duplicate else "")
        return "250 OK"
