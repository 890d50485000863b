"""Email continuation, the service: which conversations get a digest and when, confirmation and
unsubscribing, and replies that come back by mail.

The decision runs on durable state only (store/outbox.py): every `email_check_secs` one node (the
`singleton` leader lock) reads the conversations with messages past their `emailed_seq` cursor and
decides each:

* nothing unread by the visitor (their read position covers the agents' messages), or the address is
  unsubscribed or bouncing: the cursor moves on, no mail;
* an agent's text unread for the site's `email_delay`: one digest of every unread agent text, queued
  with the cursor's move in one transaction — so a crash can neither lose the decision nor take it twice;
* the address was only typed by an anonymous visitor and never confirmed: a content-free confirmation
  request is queued (once per address and site) and the cursor waits; the digest follows confirmation.

The same rounds decide "a conversation is waiting" (agent_mail.py) and NPS mail (nps_mail.py);
transcripts at close are decided in the closing's own transaction (transcripts.py).

The outbox worker (channels/outbox.py) sends what is queued. Replies arrive through the SMTP listener
(listener.py), and are stored by the same `Chat.submit` as a widget send, as the visitor, with a
client_msg_id made from the Message-ID: the same mail delivered three times is one message.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

from papote import inbound_limits
from papote.attachments.links import MAIL_TTL_MS, file_link
from papote.authz import Principal
from papote.channels.email import render, tokens
from papote.channels.email.host import Host
from papote.channels.email.inbound import MailKind, read_mail
from papote.channels.email.listener import start_listener
from papote.channels.email.mail_files import keep_files, note_refused
from papote.channels.email.nps_mail import NpsMail
from papote.channels.email.smtp import parse_smtp_url, send_mail
from papote.channels.email.support import SupportInbox, client_msg_id
from papote.channels.email.transcripts import Transcripts
from papote.channels.outbox import DeliveryError, Outbox
from papote.errors import Conflict, Held, NotFound, PapoteError
from papote.ids import new_id, now_ms
from papote.sites import settings_of
from papote.store import EmailCandidate, Message, Site
from papote.store.mail import EmailThread
from papote.store.outbox import AddressState, Delivery, EmailAddress
from papote.types import AuthorKind, MessageKind, PrincipalKind

log = logging.getLogger("papote.email")

CHANNEL = "email"
#: Conversations updated within this window are scanned: a node down for less than this catches up on
#: its return; older unread replies are not emailed days late.
SCAN_WINDOW_MS = 3 * 86_400_000
#: Conversations decided per scan round (the next round takes the rest).
SCAN_BATCH = 200
#: A digest carries at most this many messages (the newest): an email, not an archive.
MAX_DIGEST = 20
#: Message-IDs kept in References: enough to thread in every client, short enough for any header limit.
MAX_REFERENCES = 10
#: Mail to agents (agent_mail.py): sent from PAPOTE_EMAIL_FROM, and a refusal marks no visitor address.
AGENT_KINDS = frozenset({"invite", "reset", "waiting"})
#: A conversation waiting for its address's confirmation is looked at again after this long.
PENDING_RECHECK_MS = 60_000


class EmailContinuation:
    """One per node; inert when the server has no relay configured (`config.email_enabled`)."""

    def __init__(self, papote: Host) -> None:
        self.papote = papote
        self.store = papote.store
        self.config = papote.config
        self.enabled = self.config.email_enabled
        self.domain = self.config.reply_domain
        self.smtp = parse_smtp_url(self.config.smtp_url) if self.config.smtp_url else None
        self.outbox = Outbox(self.store, CHANNEL, self._send, lease_ms=2 * self.config.smtp_timeout_secs * 1000,
                             every_secs=self.config.email_check_secs, on_failed=self._bounced_delivery)
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncio.Server | None = None
        self._pending_until: dict[str, int] = {}
        self._wake = asyncio.Event()
        #: The NPS survey by email to visitors who left (nps_mail.py), decided in the same rounds.
        self.nps = NpsMail(self.store, self.config, self.domain or "papote",
                           lambda visitor_id: bool(papote.hub.connections_of(visitor_id)), self.unsubscribe_link)
        #: Mail to sites' support addresses (support.py).
        self.support = SupportInbox(papote)
        #: Transcripts asked for from the widget or sent at close (transcripts.py).
        self.transcripts = Transcripts(papote, self.outbox.poke)
        #: More decisions taken in the same rounds, under the same leader lock: "a conversation is
        #: waiting" (agent_mail.py), added by the node. Each returns how many mails it queued.
        self.rounds: list[Callable[[int], Awaitable[int]]] = []

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.enabled:
            self._tasks.append(asyncio.create_task(self._scan_loop(), name="papote-email-scan"))
            self._tasks.append(asyncio.create_task(self.outbox.run(), name="papote-email-outbox"))
            self._tasks.append(asyncio.create_task(self.transcripts.decisions.run(),
                                                   name="papote-transcript-decisions"))
            log.info("email continuation on: relay %s, replies to *@%s", self.smtp.host if self.smtp else "?",
                     self.domain)
        else:
            log.info("email continuation off: no PAPOTE_SMTP_URL (or PAPOTE_EMAIL_FROM)")
        if self.config.smtp_listen:
            self._listener = await start_listener(self, self.config.smtp_listen, self.domain or "papote")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def poke(self) -> None:
        self._wake.set()

    # -- deciding ------------------------------------------------------------------------------------
    async def _scan_loop(self) -> None:
        while True:
            try:
                async with self.store.singleton("papote.email-scan") as leader:
                    if leader:
                        await self.scan_once(now_ms())
                        if await self.nps.scan_once(now_ms()):
                            self.outbox.poke()
                        for decide in self.rounds:
                            if await decide(now_ms()):
                                self.outbox.poke()
            except Exception:  # the next round tries again: the decision lives in the store
                log.warning("email scan failed", exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.email_check_secs)
            except TimeoutError:
                pass
            self._wake.clear()

    async def scan_once(self, now: int) -> int:
        """Decide every conversation with messages past its cursor; returns the digests queued."""
        queued = 0
        self._pending_until = {cid: until for cid, until in self._pending_until.items() if until > now}
        since = now - SCAN_WINDOW_MS
        # Only the sites that want continuation or have a support address are read (a site turning both
        # off is not scanned at all).
        site_ids = [s.id for s in await self.store.list_sites()
                    if settings_of(s)["email_continuation"] or settings_of(s)["email_support_address"]]
        while site_ids:
            # Page through every candidate: those not due yet or waiting for a confirmation stay
            # candidates, and must not hold the ones behind them back.
            batch = await self.store.email_candidates(site_ids, since, SCAN_BATCH)
            threads = await self.store.email_threads([c.conversation.id for c in batch])
            for candidate in batch:
                if candidate.conversation.id in self._pending_until:
                    continue
                try:
                    queued += await self._decide(candidate, now, threads.get(candidate.conversation.id))
                except Exception:
                    log.warning("email decision for %s failed", candidate.conversation.id, exc_info=True)
            last = batch[-1].conversation.updated_at if batch else since
            if len(batch) < SCAN_BATCH or last <= since:
                break  # the end (or a whole batch within one millisecond: the next round goes on)
            since = last
        if queued:
            self.outbox.poke()
        return queued

    async def _decide(self, c: EmailCandidate, now: int, thread: EmailThread | None = None) -> int:
        """`thread`: the conversation came in by mail to the support address (support.py): agents'
        replies go to its sender at once, whatever the continuation settings, and need no confirmation
        (they wrote from that address)."""
        conv, visitor = c.conversation, c.visitor
        site = await self.papote.site_by_id(conv.site_id)
        if site is None:
            return 0
        settings = settings_of(site)
        messages = await self.store.messages_after(conv.id, c.emailed_seq, MAX_DIGEST * 5, include_notes=False)
        upto = messages[-1].seq if messages else conv.last_seq
        seen = max(c.emailed_seq, c.read_seq)
        unread = [m for m in messages if m.seq > seen and m.kind is MessageKind.TEXT
                  and m.author_kind is AuthorKind.AGENT]
        if not unread or not (thread is not None or settings["email_continuation"]):
            await self.store.advance_email_cursor(conv.id, c.emailed_seq, upto)
            return 0
        delay = 0 if thread is not None else int(settings["email_delay"])
        if now - unread[0].created_at < delay * 1000:
            return 0  # not due yet: a later round decides
        trusted = thread is not None or (visitor.verified and bool(visitor.email))
        address = (thread.address if thread is not None else visitor.email if trusted
                   else (conv.contact_email or visitor.email)).strip().casefold()
        standing = await self.store.email_address(site.id, address)
        state = standing.state if standing else None
        if state in (AddressState.UNSUBSCRIBED, AddressState.BOUNCING):
            await self.store.advance_email_cursor(conv.id, c.emailed_seq, upto)
            return 0
        lang = render.language(visitor.device.get("locale"), settings.get("locale"))
        if not trusted and state is not AddressState.CONFIRMED:
            if state is None:
                await self._ask_confirmation(site, conv.id, visitor.id, address, lang, now)
            self._pending_until[conv.id] = now + PENDING_RECHECK_MS
            return 0
        self._pending_until.pop(conv.id, None)
        delivery = await self._digest(site, conv.id, visitor.id, address, lang, unread[-MAX_DIGEST:], messages,
                                      upto, now, thread)
        if await self.store.advance_email_cursor(conv.id, c.emailed_seq, upto, delivery):
            log.info("%s of %d message(s) queued for conversation %s", delivery.kind, len(unread), conv.id)
            return 1
        return 0

    async def _digest(self, site: Site, cid: str, visitor_id: str, address: str, lang: str,
                      unread: list[Message], messages: list[Message], upto: int, now: int,
                      thread: EmailThread | None = None) -> Delivery:
        code = tokens.conversation_code(cid)
        root = f"<papote.{code}@{self.domain}>"
        if thread is not None:
            # The customer's first mail is the thread's root in their client.
            first = await self.store.messages_after(cid, 0, 1, include_notes=False)
            email = first[0].data.get("email") if first and first[0].data else None
            if isinstance(email, dict) and email.get("message_id"):
                root = str(email["message_id"])
        earlier = [d.payload.get("message_id", "") for d in await self.store.deliveries(cid)
                   if d.kind in ("digest", "reply")]
        # The Message-IDs of replies that came by mail (a `contact` event's data names an email too).
        inbound = [str(m.data["email"].get("message_id") or "") for m in messages
                   if m.kind is MessageKind.TEXT and m.author_kind is AuthorKind.VISITOR and m.data
                   and isinstance(m.data.get("email"), dict)]
        inbound = [i for i in inbound if i]
        chain = list(dict.fromkeys([root, *[e for e in earlier if e], *inbound]))
        threading = render.Threading(
            message_id=f"<papote.{code}.{upto}.{secrets.token_hex(4)}@{self.domain}>",
            in_reply_to=chain[-1], references=chain[-MAX_REFERENCES:],
        )
        reply_to = tokens.reply_address(site.secrets[0], cid, self.domain)
        expires = now + MAIL_TTL_MS
        files = [{"id": a["id"], "name": a["name"], "size": a["size"], "content_type": a["content_type"],
                  "link": file_link(self.config.base_url, site.secrets[0], a["id"], expires)}
                 for m in unread for a in m.attachments]
        if thread is not None:
            payload = render.with_files(render.reply(site.name, lang, unread, subject=thread.subject,
                                                     reply_to=reply_to, threading=threading), lang, files)
            return Delivery(new_id("d"), site.id, cid, visitor_id, CHANNEL, "reply", address, payload,
                            next_attempt_at=now, created_at=now)
        payload = render.with_files(render.digest(
            site.name, lang, unread, reply_to=reply_to,
            unsubscribe=self.unsubscribe_link(site, address),
            threading=threading,
        ), lang, files)
        return Delivery(new_id("d"), site.id, cid, visitor_id, CHANNEL, "digest", address, payload,
                        next_attempt_at=now, created_at=now)

    async def _ask_confirmation(self, site: Site, cid: str, visitor_id: str, address: str, lang: str,
                                now: int) -> None:
        claim = tokens.LinkClaim("confirm", site.id, address, visitor_id, now + tokens.CONFIRM_TTL_MS)
        payload = render.confirmation(site.name, lang, confirm=self._link("confirm", site, claim),
                                      message_id=f"<papote.confirm.{secrets.token_hex(8)}@{self.domain}>")
        delivery = Delivery(new_id("d"), site.id, cid, visitor_id, CHANNEL, "confirm", address, payload,
                            next_attempt_at=now, created_at=now)
        if await self.store.request_confirmation(EmailAddress(site.id, address, AddressState.PENDING, visitor_id,
                                                              now), delivery):
            log.info("confirmation request queued for conversation %s", cid)
            self.outbox.poke()

    def unsubscribe_link(self, site: Site, address: str) -> str:
        return self._link("unsubscribe", site, tokens.LinkClaim("unsubscribe", site.id, address))

    def _link(self, purpose: str, site: Site, claim: tokens.LinkClaim) -> str:
        return f"{self.config.base_url}/email/{purpose}?t={tokens.sign_link(site.secrets[0], claim)}"

    # -- sending -------------------------------------------------------------------------------------
    async def _send(self, delivery: Delivery) -> None:
        if self.smtp is None:
            raise DeliveryError("no relay configured")
        payload = delivery.payload
        message = render.build_message(payload, self.config.email_from, delivery.target)
        for f in payload.get("files") or []:
            if f.get("attach"):
                await self._attach(message, f)
        if delivery.kind in AGENT_KINDS:
            envelope = self.config.email_from  # an agent's bounce is the operator's to read
        else:
            # Bounces come back to the conversation's own signed address, so the listener can tell whose.
            site = await self.papote.site_by_id(delivery.site_id)
            if site is None or delivery.conversation_id is None:
                raise DeliveryError("the site or conversation is gone", permanent=True)
            envelope = tokens.reply_address(site.secrets[0], delivery.conversation_id, self.domain)
        await send_mail(self.smtp, message, envelope_sender=envelope, recipient=delivery.target,
                        timeout=self.config.smtp_timeout_secs)

    async def _attach(self, message: EmailMessage, file: dict[str, Any]) -> None:
        """Add an agent's file to the mail; one erased since the mail was queued is left out (its line
        in the text stays)."""
        attachment = await self.store.get_attachment(str(file["id"]))
        if attachment is None:
            return
        try:
            data, content_type = await self.papote.attachments.read(attachment, thumbnail=False)
        except NotFound:
            return
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.name)

    async def _bounced_delivery(self, delivery: Delivery, reason: str, permanent: bool) -> None:
        if permanent and delivery.kind not in AGENT_KINDS:
            # The relay refused a visitor's address itself: stop mailing it.
            await self.store.set_email_state(delivery.site_id, delivery.target, AddressState.BOUNCING)

    # -- links ---------------------------------------------------------------------------------------
    async def _claim(self, token: str, purpose: str) -> tuple[Site, tokens.LinkClaim]:
        stated = tokens.read_link(token)
        site = await self.store.get_site(stated.site_id) if stated else None
        claim = tokens.verify_link(site.secrets, token, purpose, now_ms()) if site else None
        if site is None or claim is None:
            raise NotFound("this link is not valid (or has expired)")
        return site, claim

    async def confirm(self, token: str) -> tuple[Site, str]:
        """Confirm an address from its link; NotFound for a forged, foreign or expired one."""
        site, claim = await self._claim(token, "confirm")
        await self.store.set_email_state(site.id, claim.email, AddressState.CONFIRMED, claim.visitor_id)
        self._pending_until.clear()
        self.poke()
        return site, claim.email

    async def unsubscribe(self, token: str) -> tuple[Site, str]:
        site, claim = await self._claim(token, "unsubscribe")
        await self.store.set_email_state(site.id, claim.email, AddressState.UNSUBSCRIBED)
        return site, claim.email

    async def check_link(self, token: str, purpose: str) -> Site:
        return (await self._claim(token, purpose))[0]

    # -- receiving -----------------------------------------------------------------------------------
    async def _to_support(self, recipients: list[str], envelope_sender: str | None, raw: bytes) -> str:
        """Mail to a site's support address (support.py); bounces and automatic mail are no message."""
        for address in recipients:
            site = await self.support.site_for(address)
            if site is None:
                continue
            mail = read_mail(raw, envelope_sender)
            if mail.kind is MailKind.BOUNCE:
                for failed in mail.failed:
                    await self.store.set_email_state(site.id, failed, AddressState.BOUNCING)
                log.info("bounce to the support address of %s: %s marked bouncing", site.id, mail.failed)
                return "250 OK: bounce recorded"
            if mail.kind is MailKind.AUTOMATIC:
                log.info("automatic mail to the support address of %s dropped", site.id)
                return "250 OK: automatic mail dropped"
            retry = self.papote.inbound_limits.hit(site.id, "email", mail.sender)
            if retry is not None:
                log.info("mail from %s to the support address of %s over budget: deferred", mail.sender, site.id)
                return inbound_limits.smtp_over(retry)
            return await self.support.receive(site, mail, raw)
        return "550 5.1.1 No such address"

    async def _site_of_reply(self, address: str) -> tuple[Site, str] | None:
        token = tokens.parse_reply_address(address, self.domain) if self.domain else None
        if token is None:
            return None
        conv = await self.store.get_conversation(token.conversation_id)
        site = await self.papote.site_by_id(conv.site_id) if conv else None
        if site is None or not tokens.verify_reply(site.secrets, token):
            return None
        return site, token.conversation_id

    async def accepts(self, address: str) -> bool:
        return await self._site_of_reply(address) is not None or await self.support.site_for(address) is not None

    async def receive(self, recipients: list[str], envelope_sender: str | None, raw: bytes) -> str:
        """Store a reply (or drop an automatic one, or record a bounce); the SMTP answer to give."""
        target = None
        for address in recipients:
            target = await self._site_of_reply(address)
            if target is not None:
                break
        if target is None:
            return await self._to_support(recipients, envelope_sender, raw)
        site, cid = target
        mail = read_mail(raw, envelope_sender)
        conv = await self.store.get_conversation(cid)
        visitor = await self.store.get_visitor(conv.visitor_id) if conv else None
        if conv is None or visitor is None:
            return "550 5.1.1 No such reply address"
        expected = (visitor.email if visitor.verified and visitor.email
                    else (conv.contact_email or visitor.email)).strip().casefold()
        if mail.kind is MailKind.BOUNCE:
            for address in mail.failed or [expected]:
                await self.store.set_email_state(site.id, address, AddressState.BOUNCING)
            log.info("bounce for conversation %s: %s marked bouncing", cid, mail.failed or [expected])
            return "250 OK: bounce recorded"
        if mail.kind is MailKind.AUTOMATIC:
            log.info("automatic mail for conversation %s dropped", cid)
            return "250 OK: automatic reply dropped"
        foreign = mail.sender != expected
        if foreign and settings_of(site)["email_foreign_sender"] == "refuse":
            return "550 5.7.1 This address may not reply to this conversation"
        body = (mail.text or mail.full_text).strip()
        if not body and not mail.files:
            return "250 OK: nothing to store"
        retry = self.papote.inbound_limits.hit(site.id, "email", mail.sender)
        if retry is not None:
            log.info("reply from %s to %s over budget: deferred", mail.sender, cid)
            return inbound_limits.smtp_over(retry)
        limit = self.config.max_body_chars
        if len(body) > limit:
            body = body[:limit - 1] + "…"
        data: dict[str, Any] = {"email": {"message_id": mail.message_id, "from": mail.sender}}
        if foreign:
            data["email"]["unverified_sender"] = True
        principal = Principal(PrincipalKind.VISITOR, visitor.id, visitor.name, site_id=site.id)
        msg_id = client_msg_id(mail.message_id, raw)
        if mail.files and await self.store.message_by_client_id(visitor.id, msg_id) is not None:
            return "250 OK: already stored"  # a retry of the sending server: its files are not kept twice
        kept = await keep_files(self.papote, principal, site, mail)
        try:
            stored = await self.papote.chat.submit(principal, cid, msg_id, body, data=data,
                                                   attachments=kept.ids or None)
            _, appended = await self.papote.chat.complete(principal, stored)
            await note_refused(self.papote, appended, kept)
        except Conflict:
            return "250 OK: already stored"  # the same Message-ID with another body: the first one stands
        except Held:
            return "250 OK: held for review"  # stored aside by the spam filter (moderation.py)
        except PapoteError as exc:
            log.warning("reply to %s refused: %s", cid, exc.message)
            return "550 5.7.1 This reply cannot be stored"
        log.info("email reply stored in %s as seq %d%s", cid, appended.message.seq,
                 " (duplicate)" if appended.duplicate else "")
        return "250 OK"
