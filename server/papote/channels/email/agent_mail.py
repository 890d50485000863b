"""Mail to agents: the invitation to a team, the password reset link, and "a conversation is waiting".

Each is a delivery of the outbox (store/outbox.py), sent by the same worker as continuation's digests;
none is queued when the server has no relay (`config.email_enabled`), and the console's invitation
link still works by hand then.

* Invitation: queued after the invitation is stored (the link carries the one-time token, in the URL's
  fragment so it never reaches a log: `/console#invite=…`).
* Password reset: `request_reset` answers nothing about the address (the web route says the same thing
  whatever it was, and runs this after answering). The link's token is 256 random bits of which only the
  digest is kept, with its expiry; using it deletes it, sets the password and ends every session in one
  transaction (store/mail.py). Rate-limited per client address and per account (`RESET_PER_ADDRESS`,
  `RESET_PER_ACCOUNT`, in this process).
* Waiting: when a visitor writes and, `waiting_mail_secs` later, none of the site's agents is online
  and none answered, every member who has not turned it off gets one mail — once per conversation
  (`waiting_notices`), not per message. Decided from the store only, in the email rounds every node
  runs and one at a time holds (`scan_once`, under the `singleton` leader lock, service.py): the
  conversations with a visitor text unanswered for the grace period and no notice yet. The notice row
  and the mails are written in one transaction, its primary key making it once. A node that dies
  within the grace period loses nothing: the text is in the store, and the next round, on any node,
  decides it. The node that committed a text only remembers when it falls due, to start a round
  then rather than at the next periodic one (`observe`): a hint, never the decision.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Protocol

from limits import parse

from papote.channels.email import notices, render
from papote.config import Config
from papote.events import Event, MessageAppended
from papote.ids import digest, new_id, new_secret, now_ms
from papote.presence import Presence
from papote.ratelimits import Budgets
from papote.sites import settings_of
from papote.store import Invite, Message, Site, Store
from papote.store.outbox import Delivery
from papote.types import AuthorKind, ConversationStatus, MessageKind, Role

log = logging.getLogger("papote.email")

CHANNEL = "email"
#: A reset link works for an hour: time to open the mail, short enough that an old inbox is no key.
RESET_TTL_MS = 3_600_000
#: Reset requests: a person asks once or twice; more from one network is someone fishing.
RESET_PER_ADDRESS = parse("10/hour")
#: Mails to one account: enough for "I did not get it", not enough to flood someone's inbox.
RESET_PER_ACCOUNT = parse("3/hour")
#: The excerpt of the visitor's words in "a conversation is waiting".
EXCERPT_CHARS = 300
#: Texts whose grace period ends are remembered to start a round then (a hint: beyond this many, the
#: periodic round decides them, `email_check_secs` later at most).
QUEUE = 1000
#: A visitor text still unanswered this long after its grace period, without a mail, is no news any
#: more: older ones are not decided (this also bounds what a round reads). A node down for less
#: catches up on its return.
WAITING_WINDOW_MS = 3_600_000
#: Conversations read per query of a round (the next page follows, oldest first).
SCAN_BATCH = 200


class Host(Protocol):
    store: Store
    config: Config
    presence: Presence
    budgets: Budgets

    async def site_by_id(self, site_id: str) -> Site | None: ...


class AgentMail:
    def __init__(self, papote: Host, poke: Callable[[], None]) -> None:
        self.papote = papote
        self.store = papote.store
        self.config = papote.config
        self.enabled = self.config.email_enabled
        self._poke = poke
        #: Starts an email round (service.py's `poke`), set by the node.
        self.start_round: Callable[[], None] = lambda: None
        #: Conversations where a visitor wrote on this node, with when their grace period ends, oldest
        #: first: when to start a round (the decision reads the store).
        self._due: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.enabled:
            self._worker = asyncio.create_task(self._work(), name="papote-waiting-mail")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    def _queued(self) -> None:
        self._poke()

    def _message_id(self, what: str) -> str:
        return f"<papote.{what}.{secrets.token_hex(8)}@{self.config.reply_domain or 'papote'}>"

    def _lang(self, site: Site | None) -> str:
        return render.language(None, settings_of(site).get("locale") if site else None)

    # -- invitations ---------------------------------------------------------------------------------
    async def invitation(self, invite: Invite, token: str, author: str, site: Site) -> bool:
        """Queue the invitation's mail; False when the server sends no mail."""
        if not self.enabled:
            return False
        now = now_ms()
        url = f"{self.config.base_url.rstrip('/')}/console#invite={token}"
        payload = notices.invitation(self._lang(site), site=site.name, author=author, role=Role(invite.role).value,
                                     url=url, message_id=self._message_id("invite"))
        await self.store.queue_delivery(Delivery(new_id("d"), site.id, None, "", CHANNEL, "invite", invite.email,
                                                 payload, next_attempt_at=now, created_at=now))
        self._queued()
        return True

    # -- password reset ------------------------------------------------------------------------------
    def reset_allowed(self, address: str) -> bool:
        """The client address's budget of reset requests (the route answers 429 beyond it)."""
        return self.papote.budgets.hit(RESET_PER_ADDRESS, "reset-address", address)

    async def request_reset(self, email: str) -> None:
        """Mail a reset link to the account with this email, if there is one, it is enabled, and its
        budget allows; otherwise nothing (and nobody is told which)."""
        email = email.strip().lower()
        agent = await self.store.get_agent_by_email(email)
        if not self.enabled or agent is None or agent.disabled:
            return
        if not self.papote.budgets.hit(RESET_PER_ACCOUNT, "reset-account", agent.id):
            log.info("password reset for %s refused: too many asked", agent.id)
            return
        # The outbox keeps every delivery under a site: a reset mail goes under one of the account's. An
        # account on no site has nothing to sign in to; the operator can recreate it (`papote agent`).
        memberships = await self.store.memberships(agent.id)
        if not memberships:
            log.info("password reset for %s not sent: the account is on no site", agent.id)
            return
        token = new_secret("pr")
        now = now_ms()
        url = f"{self.config.base_url.rstrip('/')}/password/reset?t={token}"
        payload = notices.password_reset("en", email=agent.email, url=url, message_id=self._message_id("reset"))
        await self.store.create_password_reset(
            digest(token), agent.id, now + RESET_TTL_MS,
            Delivery(new_id("d"), memberships[0].site_id, None, "", CHANNEL, "reset", agent.email, payload,
                     next_attempt_at=now, created_at=now))
        self._queued()
        log.info("password reset link queued for agent %s", agent.id)

    # -- a conversation is waiting -------------------------------------------------------------------
    def observe(self, topic: str, event: Event) -> None:
        """Called by the bus for every event this node publishes: remember when a visitor's text falls
        due, to start a round then (the first text of a conversation is enough: it is announced once)."""
        if self._worker is None or not isinstance(event, MessageAppended):
            return
        message = event.message
        if message.kind is not MessageKind.TEXT or message.author_kind is not AuthorKind.VISITOR:
            return
        if message.conversation_id in self._due or len(self._due) >= QUEUE:
            return  # a full memory of hints only delays a decision to the periodic round
        self._due[message.conversation_id] = message.created_at + self.config.waiting_mail_secs * 1000
        self._wake.set()

    async def _work(self) -> None:
        while True:
            self._wake.clear()  # before looking: a text noted from now on wakes the wait below
            now = now_ms()
            due = [cid for cid, at in self._due.items() if at <= now]
            for cid in due:
                del self._due[cid]
            if due:
                self.start_round()
            first = min(self._due.values(), default=None)
            wait = (first - now_ms()) / 1000 if first is not None else 3600.0
            try:
                # A hair past the due time: the round's `due` bound must include the text.
                await asyncio.wait_for(self._wake.wait(), max(0.05, min(wait + 0.05, 3600.0)))
            except TimeoutError:
                pass

    async def scan_once(self, now: int) -> int:
        """One round's decisions (the caller holds the leader lock): announce every conversation whose
        first unanswered visitor text waited the grace period; returns how many mails were queued for."""
        if not self.enabled:
            return 0
        due = now - self.config.waiting_mail_secs * 1000
        since = due - WAITING_WINDOW_MS
        queued = 0
        while True:
            batch = await self.store.waiting_candidates(since, due, SCAN_BATCH)
            for message in batch:
                try:
                    queued += await self.announce(message)
                except Exception:  # one bad conversation must not stop the others
                    log.warning("waiting mail for %s failed", message.conversation_id, exc_info=True)
            if len(batch) < SCAN_BATCH or batch[-1].created_at <= since:
                return queued
            since = batch[-1].created_at

    async def announce(self, message: Message) -> bool:
        """Queue "a conversation is waiting" to the site's agents, if none is online, none answered
        since `message`, and the conversation was not announced before; True when mail was queued."""
        conv = await self.store.get_conversation(message.conversation_id)
        if conv is None or conv.status is not ConversationStatus.OPEN:
            return False
        members = [a for a, m in await self.store.team(conv.site_id) if not a.disabled and not m.disabled]
        if not members or self.papote.presence.online([a.id for a in members]):
            return False
        since = await self.store.messages_after(conv.id, message.seq, 100, include_notes=False)
        if any(m.author_kind is AuthorKind.AGENT and m.kind is MessageKind.TEXT for m in since):
            return False  # someone answered meanwhile (from another device, then left)
        wants = await self.store.waiting_emails([a.id for a in members])
        site = await self.papote.site_by_id(conv.site_id)
        visitor = await self.store.get_visitor(conv.visitor_id)
        if site is None:
            return False
        now = now_ms()
        url = f"{self.config.base_url.rstrip('/')}/console#conversation={conv.id}"
        lang = self._lang(site)
        deliveries = []
        for agent in members:
            if not wants.get(agent.id, True):
                continue
            payload = notices.waiting(lang, site=site.name, visitor=(visitor.name if visitor else "") or "",
                                      excerpt=message.body[:EXCERPT_CHARS], url=url,
                                      message_id=self._message_id("waiting"))
            deliveries.append(Delivery(new_id("d"), site.id, conv.id, "", CHANNEL, "waiting", agent.email, payload,
                                       next_attempt_at=now, created_at=now))
        # Even with nobody to tell, the conversation counts as announced: an agent opting in later is
        # not mailed about this one.
        done = await self.store.queue_waiting_notice(conv.id, deliveries, now)
        if done and deliveries:
            log.info("waiting mail queued to %d agent(s) for conversation %s", len(deliveries), conv.id)
            self._queued()
        return done and bool(deliveries)
