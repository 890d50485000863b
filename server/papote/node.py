"""One node: the `Papote` object every part of a running server process shares.

`Papote(config)` wires store → bus → hub → chat, presence, the cluster, accounts and visitors; `start`
opens the store (migrations, integrity check) and the bus and starts the idle reaper; `stop` closes every
socket with 1001 and flushes the writer. The web layer (app.py, web/) holds a `Papote`; nothing here
knows about HTTP or the endpoints, only about the live sessions they register.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from papote import ratelimits
from papote.accounts import Accounts
from papote.attachments import Attachments, storage_for
from papote.bot.runner import Bot
from papote.bus import Bus
from papote.bus.broker import BrokerBus
from papote.bus.factory import bus_for
from papote.channels.email import EmailContinuation, mailgun
from papote.channels.email.agent_mail import AgentMail
from papote.channels.inbound_api import InboundApi
from papote.channels.messaging.service import Messaging
from papote.channels.webhooks import Webhooks
from papote.cluster import Cluster
from papote.config import Config
from papote.connections import Hub
from papote.contacts import Contacts
from papote.conversations import CACHE_TTL_SECS, Chat, agent_author, public_topic, site_topic, visitor_summary
from papote.errors import CloseCode
from papote.events import AvailabilityChanged, PresenceChanged, VisitorChanged
from papote.ids import now_ms
from papote.inbound_limits import InboundLimits
from papote.invites import Invites
from papote.moderation import Moderation
from papote.nps import Nps
from papote.presence import Presence
from papote.privacy import Privacy
from papote.push import Alerts
from papote.replays import Replays
from papote.reports import Reports
from papote.sites import Sites, answering, settings_of
from papote.store import Message, Site, Store, Visitor
from papote.store.factory import store_for
from papote.team import Team
from papote.visitors import Visitors

log = logging.getLogger("papote")

#: How often the reaper looks for silent sockets; the timeout itself is `Config.idle_timeout_secs`.
REAP_EVERY_SECS = 5.0
#: How often one node deletes uploads never sent (`Config.attachments_unsent_secs` says how old).
ATTACHMENT_SWEEP_SECS = 300.0


class LiveSocket(Protocol):
    """What the node needs of a live WebSocket session (web/live.py registers them)."""

    #: `time.monotonic()` of the last frame received: the reaper closes sockets silent for too long.
    last_seen: float
    #: The digest of the console session an agent's socket rides on; None for a visitor's.
    session_digest: str | None

    def request_close(self, code: CloseCode, reason: str) -> None: ...


class Papote:
    """The running server's parts. One per process; handed to endpoints, never a global."""

    def __init__(self, config: Config, store: Store | None = None, bus: Bus | None = None) -> None:
        self.config = config
        self.store: Store = store or store_for(config)
        self.bus: Bus = bus or bus_for(config.bus, config.bus_check_secs)
        if isinstance(self.bus, BrokerBus):
            self.bus.repair.history = StoreHistory(self.store)
        self.hub = Hub(self.bus)
        self.presence = Presence(self.bus.node)
        self.chat = Chat(self.store, self.bus, config, self.presence)
        self.chat.on_load_change = self.announce_presence
        self.cluster = Cluster(self)
        self.chat.on_invalidate = self.cluster.invalidate
        self.accounts = Accounts(self.store, config)
        self.limiter = ratelimits.limiter()
        #: Exact per-key budgets (sites, client addresses), asked on the hot path.
        self.budgets = ratelimits.Budgets()
        self.sites = Sites(self.store)
        self.team = Team(self.store)
        self.invites = Invites(self.store)
        self.reports = Reports(self.store)
        self.visitors = Visitors(self.store, self.budgets, config.rate_new_visitors)
        self.shared_limits = ratelimits.shared_limits(config)
        #: Signed posts' one-time tokens (Mailgun's), remembered while their signature is fresh.
        self.replays = Replays(self.shared_limits, mailgun.MAX_AGE_SECS + mailgun.MAX_SKEW_SECS)
        #: The inbound paths' budgets: per customer address, and the site's (inbound_limits.py).
        self.inbound_limits = InboundLimits(self.budgets, self.shared_limits, config.rate_inbound_per_address,
                                            config.rate_per_site)
        self.attachments = Attachments(self.store, storage_for(config, self.store), config.attachments_unsent_secs,
                                       self.chat.ref, self.budgets, self.shared_limits)
        #: Export, erasure, retention and the audit log (privacy.py).
        self.privacy = Privacy(self.store, self.attachments.storage, self.bus, self.chat.forget_visitor,
                               config.lockout_window_secs * 1000)
        #: Web Push to agents' devices, fed by what this node publishes (push.py).
        self.alerts = Alerts(self.store, config)
        self.bus.observe(self.alerts.observe)
        self.alerts.on_devices_changed = lambda: self.cluster.invalidate("push", "devices")
        #: Email continuation: digests out through the outbox, replies in through the SMTP listener.
        self.email = EmailContinuation(self)
        #: Mail to agents: invitations, password resets, "a conversation is waiting" (same outbox).
        self.agent_mail = AgentMail(self, self.email.outbox.poke)
        self.agent_mail.start_round = self.email.poke
        self.email.rounds.append(self.agent_mail.scan_once)
        self.bus.observe(self.agent_mail.observe)
        self.bus.observe(self.email.transcripts.observe)
        self.chat.closing_deliveries = self.email.transcripts.at_close
        #: Messaging channels: provider webhooks in, agents' replies out through the outbox.
        self.messaging = Messaging(self)
        self.contacts = Contacts(self)
        #: Outgoing webhooks, derived from what this node commits (and, durably, from the seq stream).
        self.webhooks = Webhooks(self)
        self.bus.observe(self.webhooks.observe)
        self.messaging.media.on_settled = self.webhooks.wake
        #: Customers' messages posted by a site's own systems (the inbound API channel).
        self.inbound = InboundApi(self)
        #: Blocks and the spam filter, asked before a visitor's message is stored (moderation.py).
        self.moderation = Moderation(self)
        self.moderation.on_invalidate = self.cluster.invalidate
        self.chat.screen = self.moderation.screen
        #: The NPS survey offered after a closing (nps.py).
        self.nps = Nps(self)
        self.chat.on_closed = self.nps.offer
        #: The site's bot, fed by the visitor messages this node commits (bot/runner.py).
        self.bot = Bot(self)
        self.bus.observe(self.bot.observe)
        self.chat.bot_takes = self.bot.takes
        self.live_sessions: set[LiveSocket] = set()
        #: Sites by public key, each with the monotonic time its copy expires (CACHE_TTL_SECS).
        self._sites_by_key: dict[str, tuple[float, Site]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None
        self._snoozes: asyncio.Task[None] | None = None
        self.started_at = time.time()

    @property
    def epoch(self) -> str:
        """What clients resume against: the store's epoch (a new database is a new epoch)."""
        return self.store.epoch

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.store.open()
        await self.bus.start()
        await self.cluster.start()
        await self.alerts.start()
        await self.email.start()
        self.agent_mail.start()
        await self.messaging.start()
        await self.webhooks.start()
        await self.bot.start()
        self._reaper = asyncio.create_task(self._reap_idle(), name="papote-reaper")
        self._sweeper = asyncio.create_task(self._sweep_attachments(), name="papote-attachment-sweep")
        self._retention = asyncio.create_task(self._apply_retention(), name="papote-retention")
        self._snoozes = asyncio.create_task(self._wake_snoozed(), name="papote-snooze-sweep")
        log.info("papote ready: database %s, bus %s, node %s, epoch %s", self.config.database_shown,
                 self.config.bus_shown, self.bus.node, self.store.epoch)

    async def stop(self) -> None:
        self.close_all_sockets(CloseCode.GOING_AWAY, "server restarting; reconnect and resume")
        if self._reaper:
            self._reaper.cancel()
        if self._sweeper:
            self._sweeper.cancel()
        if self._retention:
            self._retention.cancel()
        if self._snoozes:
            self._snoozes.cancel()
        # Give sockets a moment to send their close frames, then let handlers finish their writes.
        for _ in range(50):
            if not self.live_sessions:
                break
            await asyncio.sleep(0.02)
        await self.email.stop()
        await self.agent_mail.stop()
        await self.messaging.stop()
        await self.bot.stop()
        await self.chat.drain()
        await self.webhooks.stop()
        await asyncio.gather(*list(self._background), return_exceptions=True)
        await self.alerts.stop()
        await self.cluster.stop()
        if self.shared_limits is not None:
            await self.shared_limits.close()
        await self.bus.stop()
        await self.store.close()

    def close_all_sockets(self, code: CloseCode, reason: str) -> None:
        for session in list(self.live_sessions):
            session.request_close(code, reason)

    async def _sweep_attachments(self) -> None:
        """Delete uploads never sent, on one node at a time (the store's leader lock): two nodes
        deleting the same rows would only waste work, but the lock keeps it to one pass per period."""
        while True:
            await asyncio.sleep(ATTACHMENT_SWEEP_SECS)
            try:
                async with self.store.singleton("papote.attachment-sweep") as leader:
                    if leader:
                        await self.attachments.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("attachment sweep failed")

    async def _apply_retention(self) -> None:
        """The sites' retention, on one node at a time (the store's leader lock): two nodes purging the
        same rows would only race for them. The lock is held for the whole pass, so a pass longer than
        the period is not started twice."""
        while True:
            await asyncio.sleep(self.config.retention_every_secs)
            try:
                async with self.store.singleton("papote.retention") as leader:
                    if leader:
                        await self.privacy.apply_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention pass failed")

    async def _wake_snoozed(self) -> None:
        """Every node sweeps: the store's conditional write wakes each conversation once, and each node
        learns which are snoozed (conversations/snooze.py). No leader lock: a sweep is one indexed read."""
        while True:
            await asyncio.sleep(self.config.snooze_check_secs)
            try:
                await self.chat.wake_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("snooze sweep failed")

    async def _reap_idle(self) -> None:
        checked = time.monotonic()
        every = min(REAP_EVERY_SECS, float(self.config.session_check_secs))
        while True:
            await asyncio.sleep(every)
            deadline = time.monotonic() - self.config.idle_timeout_secs
            for session in list(self.live_sessions):
                if session.last_seen < deadline:
                    session.request_close(CloseCode.IDLE, "no frame for too long")
            if time.monotonic() - checked >= self.config.session_check_secs:
                checked = time.monotonic()
                try:
                    await self.check_sessions()
                except Exception:  # a failed check is retried next time; the reaper must go on
                    log.warning("session check failed", exc_info=True)

    async def check_sessions(self) -> None:
        """Close the console sockets whose session no longer holds: ended by the CLI (`papote agent
        disable`, another process), expired, or the account disabled. The server's own revocations close
        sockets at once through the bus; this catches what the bus cannot carry."""
        sessions = [s for s in list(self.live_sessions) if s.session_digest]
        if not sessions:
            return
        live = await self.store.live_sessions(sorted({s.session_digest or "" for s in sessions}), now_ms())
        for session in sessions:
            if session.session_digest not in live:
                session.request_close(CloseCode.SESSION_REVOKED, "session ended")

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    # -- sites (cached: read on every visitor hello) ------------------------------------------------
    async def site_by_key(self, key: str) -> Site | None:
        cached = self._sites_by_key.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        site = await self.store.get_site_by_key(key)
        if site is None:
            self._sites_by_key.pop(key, None)
        else:
            self._sites_by_key[key] = (time.monotonic() + CACHE_TTL_SECS, site)
        return site

    async def site_by_id(self, site_id: str) -> Site | None:
        now = time.monotonic()
        for expires, site in self._sites_by_key.values():
            if site.id == site_id and expires > now:
                return site
        found = await self.store.get_site(site_id)
        if found is not None:
            self._sites_by_key[found.key] = (now + CACHE_TTL_SECS, found)
        return found

    def site_changed(self, site: Site) -> None:
        """This node changed `site` (origins, settings, secrets): keep the new copy here and make
        every other node drop its own, so a removed origin stops working everywhere at once."""
        self._sites_by_key[site.key] = (time.monotonic() + CACHE_TTL_SECS, site)
        self.moderation.forget(site.id)
        self.email.support.forget()  # its support address may have changed
        self.cluster.invalidate("site", site.id)

    def forget(self, kind: str, record_id: str) -> None:
        """Another node changed a record this node may hold a copy of."""
        if kind == "site":
            for key in [k for k, (_, s) in self._sites_by_key.items() if s.id == record_id]:
                del self._sites_by_key[key]
            self.moderation.forget(record_id)
            self.email.support.forget()
        elif kind == "agent":
            self.chat.forget_agent(record_id)
        elif kind == "visitor":
            self.chat.forget_visitor(record_id, tell=False)
        elif kind == "block":
            self.moderation.forget(record_id)
        elif kind == "push":
            self.alerts.forget_owners()

    # -- presence ------------------------------------------------------------------------------------
    async def agents_online(self, site_id: str) -> int:
        members = [a.id for a, _ in await self.store.list_agents(site_id)]
        return len(self.presence.online(members))

    async def presence_list(self, site_ids: list[str]) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        # Two reads for any number of sites: on PostgreSQL each read is a round trip.
        teams = await self.store.site_members(site_ids)
        loads = await self.store.agent_loads(list({a.id for team in teams.values() for a, _ in team}))
        for site_id, members in teams.items():
            for agent, role in members:
                entry = seen.setdefault(agent.id, {
                    **agent_author(agent), "status": self.presence.effective(agent.id),
                    "capacity": self.presence.capacity_of(agent.id, agent.capacity),
                    "load": loads.get(agent.id, 0), "sites": {},
                })
                entry["sites"][site_id] = role
        return list(seen.values())

    async def announce_presence(self, agent_id: str) -> None:
        agent = await self.chat.agent(agent_id)
        if agent is None:
            return
        memberships = await self.store.memberships(agent_id)
        load = (await self.store.agent_loads([agent_id])).get(agent_id, 0)
        event = PresenceChanged(agent_author(agent), self.presence.effective(agent_id),
                                self.presence.capacity_of(agent_id, agent.capacity), load)
        teams = await self.store.site_members([m.site_id for m in memberships])
        for m in memberships:
            self.bus.publish(site_topic(m.site_id), event)
            site = await self.site_by_id(m.site_id)
            if site is not None:
                online = len(self.presence.online([a.id for a, _ in teams[m.site_id]]))
                self.bus.publish(public_topic(m.site_id), AvailabilityChanged(m.site_id, online, _open_now(site)))

    async def publish_visitor(self, visitor: Visitor, event: dict[str, Any] | None = None) -> None:
        """Live visitor context for the site's agents (current page, attributes, tracked events)."""
        self.bus.publish(site_topic(visitor.site_id),
                         VisitorChanged(visitor_summary(visitor, full=True), True, event))

    async def visitor_left(self, visitor_id: str) -> None:
        if self.hub.connections_of(visitor_id):
            return
        visitor = await self.store.get_visitor(visitor_id)
        if visitor is not None:
            self.bus.publish(site_topic(visitor.site_id),
                             VisitorChanged(visitor_summary(visitor, full=True), False))


class StoreHistory:
    """What the bus's gap repair reads: positions and messages, notes included (each connection renders
    what its audience may see)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def positions(self, conversation_ids: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for cid in conversation_ids:
            conv = await self.store.get_conversation(cid)
            if conv is not None:
                out[cid] = conv.last_seq
        return out

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        return await self.store.messages_after(conversation_id, after_seq, limit, include_notes=True)


def _open_now(site: Site) -> bool:
    return answering(settings_of(site))


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
