"""Alerts on agents' devices: Web Push driven by the domain events this node commits.

    chat commits ─► bus.publish(event) ─► Alerts.observe (sync, O(1): filter, put_nowait)
                                                │ bounded queue (PAPOTE_PUSH_QUEUE; full: dropped, counted)
                                                ▼
                           workers: who wants it (store) ─► encrypt + sign (thread) ─► POST (httpx, timeout)
                                                                                        404/410: forget it

Most sites have no agent with a device, and `observe` sits on every visitor text: it drops everything
while no agent has a device (`owners`, the agents with one, read once and again when any node announces
a change of devices — `CacheInvalidated("push")` on the cluster topic — with a re-read every
OWNERS_REFRESH_SECS as the safety net if the broker lost that). So a shop without phones pays one
attribute test per message, not a worker hop and store reads. The worker also drops a visitor's reply
when the assignee has no device before it reads anything else.

Only the node that committed a change sees it through `observe` (the bus calls observers on publish,
never on what arrives from other nodes), so on several nodes each alert is sent once. Nothing here is
on the send → commit → ack → fan-out path but the `observe` call; a slow or dead push service costs
a worker slot for at most PAPOTE_PUSH_TIMEOUT_SECS, and no retry: an alert that comes late is noise.

The alerts (store/push.py `ALERTS`), each chosen per device:
- `new_conversation`: a visitor started a conversation on one of the agent's sites;
- `visitor_reply`: a visitor wrote in a conversation assigned to the agent;
- `transfer`: another agent transferred (or assigned) a conversation to the agent;
- `mention`: another agent mentioned the agent in a private note (its `data.mentions`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx

from papote.config import Config
from papote.errors import Conflict, ErrorCode, Forbidden, NotFound, PapoteError
from papote.events import Event, MessageAppended
from papote.ids import new_id, now_ms
from papote.store import Conversation, Message, Store
from papote.store.push import PushSubscription, VapidKeys
from papote.store.rules import mentioned
from papote.types import AuthorKind, ConversationStatus, MessageKind
from papote.webpush import build_request, new_keys, service_allowed, valid_browser_keys

log = logging.getLogger("papote.push")

#: Requests in flight at once: enough for a burst of alerts to a team, few enough to stay a side job.
CONCURRENCY = 8
#: Workers taking alerts off the queue (each resolves who wants one, then sends to every device).
WORKERS = 2
#: How stale this node's list of agents with devices may get if the broker lost a change's announcement:
#: an agent's first alert on a new phone may come this much late, never any later.
OWNERS_REFRESH_SECS = 30.0
#: A message's excerpt in the alert: a phone's lock screen shows two lines at most.
EXCERPT_CHARS = 140


class Alerts:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self.keys: VapidKeys | None = None
        self._queue: asyncio.Queue[tuple[str, Message]] = asyncio.Queue(maxsize=config.push_queue)
        self._workers: list[asyncio.Task[None]] = []
        self._sends: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._client: httpx.AsyncClient | None = None
        #: The agents with at least one device; None while unknown (not read yet, or a node announced
        #: a change being re-read): then every candidate alert is queued, so none is missed.
        self.owners: frozenset[str] | None = None
        self._owners_read: asyncio.Task[None] | None = None
        self._generation = 0
        #: Tells the other nodes that an agent's devices changed (the cluster's invalidation).
        self.on_devices_changed: Callable[[], None] | None = None
        #: queued, dropped (queue full), handled (dispatched: sent to whoever wanted it, or to nobody),
        #: and per request: sent, failed (an error answer, a timeout) and gone (404/410, forgotten).
        self.counts = {"queued": 0, "dropped": 0, "handled": 0, "sent": 0, "failed": 0, "gone": 0}

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Read (or make, on a new database) the VAPID key pair every node shares, and start the workers."""
        if not self.config.push:
            return
        self.keys = await self.store.ensure_push_keys(new_keys())
        self._client = httpx.AsyncClient(timeout=self.config.push_timeout_secs, follow_redirects=False)
        self._workers = [asyncio.create_task(self._work(), name=f"papote-push-{i}") for i in range(WORKERS)]
        self._workers.append(asyncio.create_task(self._keep_owners(), name="papote-push-owners"))

    async def stop(self) -> None:
        # Alerts still queued or on their way are dropped: after a restart they would come late.
        reading = [self._owners_read] if self._owners_read is not None else []
        for task in [*self._workers, *self._sends, *reading]:
            task.cancel()
        await asyncio.gather(*self._workers, *self._sends, *reading, return_exceptions=True)
        self._workers.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "waiting": self._queue.qsize(), "in_flight": len(self._sends),
                "on": self.keys is not None}

    # -- an agent's devices (the REST routes of web/push_api.py) ------------------------------------------
    def public_key(self) -> str | None:
        """The `applicationServerKey` browsers subscribe with; None when pushes are off."""
        return self.keys.public_key if self.keys else None

    async def devices(self, agent_id: str) -> list[PushSubscription]:
        return await self.store.push_subscriptions(agent_id)

    async def subscribe(self, agent_id: str, endpoint: str, p256dh: str, auth: str, label: str,
                        alerts: dict[str, bool]) -> PushSubscription:
        """This browser alerts `agent_id` from now on (it stops alerting whoever had it before)."""
        if self.keys is None:
            raise Conflict("push alerts are turned off on this server (PAPOTE_PUSH)")
        if not service_allowed(endpoint, self.config.push_service_list):
            # Refused as a matter of policy, not of form: any URL may be a push service somewhere.
            raise Forbidden("this push service is not one the server posts to (PAPOTE_PUSH_SERVICES)")
        if not valid_browser_keys(p256dh, auth):
            raise PapoteError("keys.p256dh must be a P-256 point and keys.auth 16 bytes, base64url",
                              ErrorCode.BAD_FIELD)
        sub = PushSubscription(new_id("ps"), agent_id, endpoint, p256dh, auth, label,
                               new_conversation=alerts.get("new_conversation", True),
                               visitor_reply=alerts.get("visitor_reply", True),
                               transfer=alerts.get("transfer", True), created_at=now_ms(),
                               mention=alerts.get("mention", True))
        saved = await self.store.save_push_subscription(sub)
        self.devices_changed()
        return saved

    async def choose(self, agent_id: str, sub_id: str, alerts: dict[str, bool]) -> PushSubscription:
        sub = await self.store.update_push_alerts(agent_id, sub_id, alerts)
        if sub is None:
            raise NotFound("no such device")
        return sub

    async def unsubscribe(self, agent_id: str, sub_id: str) -> None:
        if not await self.store.delete_push_subscription(agent_id, sub_id):
            raise NotFound("no such device")
        self.devices_changed()

    # -- who has a device ----------------------------------------------------------------------------
    def devices_changed(self) -> None:
        """This node changed someone's devices: re-read here and tell the other nodes to."""
        self.forget_owners()
        if self.on_devices_changed is not None:
            self.on_devices_changed()

    def forget_owners(self) -> None:
        """Devices changed (here or on another node): queue every candidate alert until re-read."""
        if self.keys is None:
            return
        self._generation += 1
        self.owners = None
        if self._owners_read is None or self._owners_read.done():
            self._owners_read = asyncio.create_task(self._reread_owners(), name="papote-push-owners-read")

    async def _reread_owners(self) -> None:
        try:
            await self._read_owners()
        except Exception:  # the store is away: owners stays unknown, the periodic read tries again
            log.warning("push: could not re-read which agents have devices", exc_info=True)

    async def _read_owners(self) -> None:
        # A read that started before a change was announced may miss it: only a read that began after
        # the last announcement is kept.
        while True:
            generation = self._generation
            owners = frozenset(await self.store.push_owners())
            if generation == self._generation:
                self.owners = owners
                return

    async def _keep_owners(self) -> None:
        while True:
            try:
                await self._read_owners()
            except Exception:  # the store is away: keep queueing everything until it answers
                self.owners = None
                log.warning("push: could not read which agents have devices", exc_info=True)
            await asyncio.sleep(OWNERS_REFRESH_SECS)

    # -- the hook on the bus -------------------------------------------------------------------------
    def observe(self, topic: str, event: Event) -> None:
        """Called by the bus for every event this node publishes: keep those that may alert someone."""
        if self.keys is None or not isinstance(event, MessageAppended) or self.owners == frozenset():
            return
        message = event.message
        if message.kind == MessageKind.TEXT and message.author_kind == AuthorKind.VISITOR:
            kind = "visitor_text"
        elif (message.kind == MessageKind.EVENT and message.event in ("transferred", "assigned")
              and message.author_kind == AuthorKind.AGENT and _target_of(message) not in (None, message.author_id)):
            kind = "handed_over"
        elif mentioned(message):
            kind = "mention"
        else:
            return
        try:
            self._queue.put_nowait((kind, message))
            self.counts["queued"] += 1
        except asyncio.QueueFull:
            self.counts["dropped"] += 1

    # -- deciding who gets what ----------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            kind, message = await self._queue.get()
            try:
                await self.dispatch(kind, message)
            except Exception:  # one bad alert must not stop the worker
                log.warning("push: could not dispatch an alert for %s", message.conversation_id, exc_info=True)
            finally:
                self.counts["handled"] += 1

    async def dispatch(self, kind: str, message: Message) -> None:
        conv = await self.store.get_conversation(message.conversation_id)
        if conv is None or (conv.status != ConversationStatus.OPEN and kind != "mention"):
            return  # (a note may mention someone in a closed conversation: it is still news to them)
        if kind == "visitor_text" and message.seq == 1:
            alert, agents = "new_conversation", await self._members(conv.site_id)
        elif kind == "mention":
            named = mentioned(message)
            if self.owners is not None and not self.owners.intersection(named):
                return  # nobody mentioned has a device
            team = set(await self._members(conv.site_id))  # still members since the note was written
            alert, agents = "mention", [a for a in named if a in team]
        elif kind == "visitor_text":
            if self.owners is not None and conv.assignee_id not in self.owners:
                return  # the usual reply: nobody's phone to tell, so no membership reads
            alert, agents = "visitor_reply", await self._still_member(conv, conv.assignee_id)
        else:
            target = _target_of(message)
            # Transferred again, or taken back, before this ran: the alert would point at someone else's chat.
            alert, agents = "transfer", await self._still_member(conv, target if conv.assignee_id == target else None)
        if not agents:
            return
        subs = await self.store.push_targets(agents, alert)
        if not subs:
            return
        payload = json.dumps(await self._payload(alert, conv, message), separators=(",", ":")).encode()
        for sub in subs:
            await self._slots.acquire()
            task = asyncio.create_task(self._send(sub, payload, conv.id))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _members(self, site_id: str) -> list[str]:
        return [agent.id for agent, membership in await self.store.team(site_id)
                if not agent.disabled and not membership.disabled]

    async def _still_member(self, conv: Conversation, agent_id: str | None) -> list[str]:
        if agent_id is None:
            return []
        membership = await self.store.membership(conv.site_id, agent_id)
        agent = await self.store.get_agent(agent_id)
        ok = membership is not None and not membership.disabled and agent is not None and not agent.disabled
        return [agent_id] if ok else []

    async def _payload(self, alert: str, conv: Conversation, message: Message) -> dict[str, Any]:
        """What the service worker shows (it words it in the agent's language): data, not sentences."""
        visitor = await self.store.get_visitor(conv.visitor_id)
        site = await self.store.get_site(conv.site_id)
        out: dict[str, Any] = {
            "alert": alert, "conversation": conv.id, "site": site.name if site else "",
            "visitor": (visitor.name if visitor else "") or "", "url": f"/console#conversation={conv.id}",
            "ts": message.created_at,
        }
        if message.kind == MessageKind.TEXT:
            out["body"] = message.body[:EXCERPT_CHARS]
        elif message.kind == MessageKind.NOTE:  # a mention: who wrote it, and what
            out["by"] = message.author_name
            out["body"] = message.body[:EXCERPT_CHARS]
        else:
            out["by"] = message.author_name
        return out

    # -- sending -------------------------------------------------------------------------------------
    async def _send(self, sub: PushSubscription, payload: bytes, topic: str) -> None:
        try:
            assert self.keys is not None and self._client is not None
            # ECDH, HKDF, AES-GCM and an ES256 signature: quick, but CPU all the same; off the loop.
            request = await asyncio.to_thread(build_request, sub, payload, self.keys, self.config.push_contact,
                                              topic=topic.replace("_", "-")[-32:])
            response = await self._client.post(request.url, content=request.body, headers=request.headers)
            if response.status_code in (404, 410):
                # The browser unsubscribed, or the service expired it: it never comes back.
                await self.store.delete_push_endpoint(sub.endpoint)
                self.counts["gone"] += 1
                self.devices_changed()
            elif response.status_code >= 400:
                self.counts["failed"] += 1
                log.warning("push: %s answered %d", request.url.split("/")[2], response.status_code)
            else:
                self.counts["sent"] += 1
        except (httpx.HTTPError, OSError) as exc:
            self.counts["failed"] += 1
            log.warning("push: sending failed: %s", type(exc).__name__)
        finally:
            self._slots.release()


def _target_of(message: Message) -> str | None:
    agent = (message.data or {}).get("agent")
    return agent.get("id") if isinstance(agent, dict) else None
